-- name: customers_by_tenant
-- key: tenant_id
-- Customers and their balances per tenant: catches lost customers and moved money.
SELECT tenant_id, COUNT(*) AS customers, SUM(balance) AS balance
FROM {side}.customers
GROUP BY tenant_id
