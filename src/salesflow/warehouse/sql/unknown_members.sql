-- The -1 "unknown" member of each dimension, so every fact has a key to join on.
INSERT INTO dim_customer (customer_key, customer_id, region, segment)
SELECT -1, 'unknown', 'unknown', 'unknown' WHERE NOT EXISTS (SELECT 1 FROM dim_customer WHERE customer_key = -1);
INSERT INTO dim_store (store_key, store_id, name, city, country, channel)
SELECT -1, 'unknown', 'unknown', 'unknown', '--', 'unknown' WHERE NOT EXISTS (SELECT 1 FROM dim_store WHERE store_key = -1);
INSERT INTO dim_product (product_key, product_id, name, category, brand, valid_from, valid_to, is_current)
SELECT -1, 'unknown', 'unknown', 'unknown', 'unknown', CAST('1900-01-01 00:00:00+00' AS TIMESTAMPTZ),
       CAST('9999-12-31 00:00:00+00' AS TIMESTAMPTZ), TRUE
WHERE NOT EXISTS (SELECT 1 FROM dim_product WHERE product_key = -1);
