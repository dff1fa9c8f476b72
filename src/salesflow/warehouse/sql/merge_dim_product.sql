-- Type-2 product dimension: a change of price or category closes the current version at
-- $changed_at and opens a new one; name and brand are corrected in place (type 1). An inferred
-- member (named by facts before the catalogue: every attribute NULL) is filled in place first, so
-- the facts already on it take the catalogue's attributes rather than keeping a NULL version.
UPDATE dim_product SET name = s.name, category = s.category, brand = s.brand, list_price = s.list_price
FROM stage_products s
WHERE dim_product.product_id = s.product_id AND dim_product.is_current
  AND dim_product.name IS NULL AND dim_product.category IS NULL AND dim_product.brand IS NULL
  AND dim_product.list_price IS NULL;
UPDATE dim_product SET name = s.name, brand = s.brand
FROM stage_products s
WHERE dim_product.product_id = s.product_id AND dim_product.is_current
  AND (dim_product.name IS DISTINCT FROM s.name OR dim_product.brand IS DISTINCT FROM s.brand);
UPDATE dim_product SET valid_to = $changed_at, is_current = FALSE
FROM stage_products s
WHERE dim_product.product_id = s.product_id AND dim_product.is_current
  AND (dim_product.list_price IS DISTINCT FROM s.list_price OR dim_product.category IS DISTINCT FROM s.category);
INSERT INTO dim_product (product_key, product_id, name, category, brand, list_price, valid_from, valid_to, is_current)
SELECT (SELECT COALESCE(max(product_key), 0) FROM dim_product) + row_number() OVER (ORDER BY s.product_id),
       s.product_id, s.name, s.category, s.brand, s.list_price,
       CASE WHEN EXISTS (SELECT 1 FROM dim_product d WHERE d.product_id = s.product_id)
            THEN $changed_at ELSE CAST('1900-01-01 00:00:00+00' AS TIMESTAMPTZ) END,
       CAST('9999-12-31 00:00:00+00' AS TIMESTAMPTZ), TRUE
FROM stage_products s
WHERE NOT EXISTS (SELECT 1 FROM dim_product d WHERE d.product_id = s.product_id AND d.is_current);
