-- Late-arriving dimensions: a customer, store or product that facts name before any reference data
-- does becomes an inferred member now (a key of its own, attributes NULL), so its facts keep a real
-- key and cohorts, RFM, store filters and product rankings see them. When the reference data
-- arrives, merge_dim_customer, merge_dim_store and merge_dim_product fill the attributes in place:
-- the key, and every fact on it, stay. (An inferred product is valid for all time: no version of
-- it is known yet to close.)
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
INSERT INTO dim_product (product_key, product_id, valid_from, valid_to, is_current)
SELECT (SELECT COALESCE(max(product_key), 0) FROM dim_product) + row_number() OVER (ORDER BY s.product_id),
       s.product_id, CAST('1900-01-01 00:00:00+00' AS TIMESTAMPTZ), CAST('9999-12-31 00:00:00+00' AS TIMESTAMPTZ), TRUE
FROM (SELECT DISTINCT product_id FROM stage_fact_sales WHERE product_id IS NOT NULL) s
WHERE NOT EXISTS (SELECT 1 FROM dim_product d WHERE d.product_id = s.product_id);
