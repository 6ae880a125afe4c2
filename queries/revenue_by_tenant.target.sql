-- name: revenue_by_tenant
-- key: tenant_id, month
SELECT tenant_id, date_trunc('month', opened_on) AS month, SUM(total_amount) AS revenue
FROM target.work_orders
GROUP BY tenant_id, date_trunc('month', opened_on)
