-- Calendar days never change: insert the missing ones.
INSERT INTO dim_date
SELECT s.* FROM stage_dim_date s
WHERE NOT EXISTS (SELECT 1 FROM dim_date d WHERE d.date_key = s.date_key);
