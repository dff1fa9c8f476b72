-- Type-1 store dimension.
UPDATE dim_store SET name = s.name, city = s.city, country = s.country, channel = s.channel
FROM stage_stores s
WHERE dim_store.store_id = s.store_id
  AND (dim_store.name IS DISTINCT FROM s.name OR dim_store.city IS DISTINCT FROM s.city
       OR dim_store.country IS DISTINCT FROM s.country OR dim_store.channel IS DISTINCT FROM s.channel);
INSERT INTO dim_store (store_key, store_id, name, city, country, channel)
SELECT (SELECT COALESCE(max(store_key), 0) FROM dim_store) + row_number() OVER (ORDER BY s.store_id),
       s.store_id, s.name, s.city, s.country, s.channel
FROM stage_stores s
WHERE NOT EXISTS (SELECT 1 FROM dim_store d WHERE d.store_id = s.store_id);
