-- Views for BI tools: the star joined once, so dashboards start from one wide relation.
CREATE OR REPLACE VIEW v_sales AS
SELECT f.order_id, f.line_number, f.event_time, f.event_date, d.year, d.month, d.year_month, d.day_name,
       d.is_weekend, d.is_holiday, p.product_id, p.name AS product_name, p.category, p.brand,
       c.customer_id, c.region, c.segment, s.store_id, s.city, s.country, f.channel,
       f.source, f.quantity, f.unit_price, f.discount, f.revenue
FROM fact_sales f
JOIN dim_date d ON d.date_key = f.date_key
JOIN dim_product p ON p.product_key = f.product_key
JOIN dim_customer c ON c.customer_key = f.customer_key
JOIN dim_store s ON s.store_key = f.store_key;
CREATE OR REPLACE VIEW v_daily_revenue AS
SELECT event_date, sum(revenue) AS revenue, count(DISTINCT order_id) AS orders, sum(quantity) AS units
FROM fact_sales GROUP BY event_date;
