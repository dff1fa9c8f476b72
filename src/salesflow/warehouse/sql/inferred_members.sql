-- Late-arriving dimensions: a customer or store that facts name before any reference data does
-- becomes an inferred member now (a key of its own, attributes NULL), so its facts keep a real key
-- and cohorts, RFM and store filters see them. When the reference data arrives, merge_dim_customer
-- and merge_dim_store fill the attributes in place: the key, and every fact on it, stay.
INSERT INTO dim_customer (customer_key, customer_id)
SELECT (SELECT COALESCE(max(customer_key), 0) FROM dim_customer) + row_number() OVER (ORDER BY s.customer_id),
       s.customer_id
FROM (SELECT DISTINCT customer_id FROM stage_fact_sales WHERE customer_id IS NOT NULL) s
WHERE NOT EXISTS (SELECT 1 FROM dim_customer d WHERE d.customer_id = s.customer_id);
INSERT INTO dim_store (store_key, store_id)
SELECT (SELECT COALESCE(max(store_key), 0) FROM dim_store) + row_number() OVER (ORDER BY s.store_id),
       s.store_id
FROM (SELECT DISTINCT store_id FROM stage_fact_sales WHERE store_id IS NOT NULL) s
WHERE NOT EXISTS (SELECT 1 FROM dim_store d WHERE d.store_id = s.store_id);
