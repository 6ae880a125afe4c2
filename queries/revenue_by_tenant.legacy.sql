-- name: revenue_by_tenant
-- key: tenant_id, month
-- tolerance: revenue=0.00
-- Monthly revenue per tenant. The target renamed service_orders to work_orders and
-- final_amount to total_amount, hence one file per side.
SELECT tenant_id, date_trunc('month', opened_on) AS month, SUM(final_amount) AS revenue
FROM legacy.service_orders
GROUP BY tenant_id, date_trunc('month', opened_on)
