-- Type-1 customer dimension: attributes overwrite, keys are assigned once per natural key.
UPDATE dim_customer SET signup_date = s.signup_date, region = s.region, segment = s.segment
FROM stage_customers s
WHERE dim_customer.customer_id = s.customer_id
  AND (dim_customer.region IS DISTINCT FROM s.region OR dim_customer.segment IS DISTINCT FROM s.segment
       OR dim_customer.signup_date IS DISTINCT FROM s.signup_date);
INSERT INTO dim_customer (customer_key, customer_id, signup_date, region, segment)
SELECT (SELECT COALESCE(max(customer_key), 0) FROM dim_customer) + row_number() OVER (ORDER BY s.customer_id),
       s.customer_id, s.signup_date, s.region, s.segment
FROM stage_customers s
WHERE NOT EXISTS (SELECT 1 FROM dim_customer d WHERE d.customer_id = s.customer_id);
