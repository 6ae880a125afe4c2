//! The two data sets: the ERP migration (four related tables, every kind of drift) and the
//! bench table (15 mixed columns).

use arrow::datatypes::DataType;

use super::Profile;
use super::model::*;
use super::values::ty;

pub(super) fn specs(rows: u64, profile: Profile) -> Vec<Spec> {
    if profile == Profile::Bench {
        return vec![bench_orders(rows), bench_vehicles(rows)];
    }
    let customers = (rows / 4).max(10);
    let vehicles = (rows / 3).max(10);
    vec![
        erp_customers(customers),
        erp_vehicles(vehicles, customers),
        erp_orders(rows, vehicles),
        erp_invoices(rows),
    ]
}

/// The bench's table: 15 mixed columns, a little of every drift.
fn bench_orders(rows: u64) -> Spec {
    Spec {
        name: "service_orders",
        legacy: "service_orders",
        target: "service_orders",
        rows,
        key: vec!["order_id"],
        cols: bench_order_columns(rows),
        rates: Rates {
            missing: 0.0005,
            changed: 0.001,
            extra: 0.0005,
            ..Rates::default()
        },
        cosmetic_col: None,
        legacy_only: Vec::new(),
        swap_col: None,
    }
}

/// The bench table's columns (a flat list).
fn bench_order_columns(rows: u64) -> Vec<Col> {
    use DataType::{Boolean, Date32, Float64, Int32, Int64, Utf8};
    vec![
        col("order_id", "order_id", Kind::Key, Int64, Int64, false),
        col("tenant_id", "tenant_id", Kind::Tenant, Int32, Int32, true),
        col(
            "vehicle_id",
            "vehicle_id",
            Kind::Ref(rows / 3 + 1),
            Int64,
            Int64,
            true,
        ),
        col(
            "mileage",
            "mileage",
            Kind::Int(0, 400_000),
            Int32,
            Int32,
            true,
        ),
        col(
            "parts_total",
            "parts_total",
            Kind::Money(3, 5_000),
            ty::dec(18, 3),
            ty::dec(18, 3),
            true,
        ),
        col(
            "labor_total",
            "labor_total",
            Kind::Money(3, 2_000),
            ty::dec(18, 3),
            ty::dec(18, 3),
            true,
        ),
        col(
            "vat_amount",
            "vat_amount",
            Kind::Money(3, 1_000),
            ty::dec(18, 3),
            ty::dec(18, 3),
            true,
        ),
        col(
            "final_amount",
            "final_amount",
            Kind::Sum(4, 5, 6),
            ty::dec(18, 3),
            ty::dec(18, 3),
            true,
        ),
        col("opened_on", "opened_on", Kind::Date, Date32, Date32, true),
        col(
            "opened_at",
            "opened_at",
            Kind::Ts,
            ty::naive(),
            ty::naive(),
            true,
        ),
        col(
            "discount_rate",
            "discount_rate",
            Kind::Rate,
            Float64,
            Float64,
            true,
        ),
        col("status", "status", Kind::Status, Utf8, Utf8, true),
        col(
            "customer_name",
            "customer_name",
            Kind::Arabic,
            Utf8,
            Utf8,
            true,
        ),
        col("plate", "plate", Kind::Plate, Utf8, Utf8, true),
        col("notes", "notes", Kind::Note, Utf8, Utf8, true),
        col(
            "is_warranty",
            "is_warranty",
            Kind::Flag,
            Boolean,
            Boolean,
            true,
        ),
    ]
}

/// The bench's parent table.
fn bench_vehicles(rows: u64) -> Spec {
    use DataType::{Int64, Utf8};
    Spec {
        name: "vehicles",
        legacy: "vehicles",
        target: "vehicles",
        rows: rows / 3 + 1,
        key: vec!["id"],
        cols: vec![
            col("id", "id", Kind::Key, Int64, Int64, false),
            col("make", "make", Kind::Make, Utf8, Utf8, false),
            col("plate", "plate", Kind::Plate, Utf8, Utf8, false),
        ],
        rates: Rates::default(),
        cosmetic_col: None,
        legacy_only: Vec::new(),
        swap_col: None,
    }
}

/// The ERP's customers.
fn erp_customers(customers: u64) -> Spec {
    use DataType::{Boolean, Int8, Int32, Int64, Utf8};
    Spec {
        name: "customers",
        legacy: "customers",
        target: "customers",
        rows: customers,
        key: vec!["id"],
        cols: vec![
            col("id", "id", Kind::Key, Int32, Int64, false),
            col("tenant_id", "tenant_id", Kind::Tenant, Int32, Int64, false),
            col("name", "full_name", Kind::Name, Utf8, Utf8, false),
            col("name_ar", "name_ar", Kind::Arabic, Utf8, Utf8, false),
            col("phone", "phone", Kind::Phone, Utf8, Utf8, false),
            col("is_active", "is_active", Kind::Flag, Int8, Boolean, false),
            col(
                "created_at",
                "created_at",
                Kind::Ts,
                ty::naive(),
                ty::tz(),
                false,
            ),
            col(
                "balance",
                "balance",
                Kind::Money(2, 20_000),
                ty::dec(12, 2),
                ty::dec(18, 4),
                false,
            ),
        ],
        rates: Rates {
            cosmetic: 0.01,
            ..Rates::default()
        },
        cosmetic_col: Some("name"),
        legacy_only: vec![col("fax", "fax", Kind::Phone, Utf8, Utf8, false)],
        swap_col: Some("balance"),
    }
}

/// The ERP's vehicles, each a customer's.
fn erp_vehicles(vehicles: u64, customers: u64) -> Spec {
    use DataType::{Int16, Int32, Int64, Utf8};
    Spec {
        name: "vehicles",
        legacy: "vehicles",
        target: "vehicles",
        rows: vehicles,
        key: vec!["id"],
        cols: vec![
            col("id", "id", Kind::Key, Int32, Int64, false),
            col(
                "customer_id",
                "customer_id",
                Kind::Ref(customers),
                Int32,
                Int64,
                false,
            ),
            col("make", "make", Kind::Make, Utf8, Utf8, false),
            col(
                "model_year",
                "model_year",
                Kind::Int(2005, 2025),
                Int16,
                Int32,
                false,
            ),
            col("plate", "plate", Kind::Plate, Utf8, Utf8, false),
        ],
        rates: Rates::default(),
        cosmetic_col: None,
        legacy_only: Vec::new(),
        swap_col: None,
    }
}

/// The ERP's service orders, each for a vehicle.
fn erp_orders(rows: u64, vehicles: u64) -> Spec {
    use DataType::{Boolean, Date32, Float32, Float64, Int8, Int32, Int64, Utf8};
    Spec {
        name: "service_orders",
        legacy: "service_orders",
        target: "work_orders",
        rows,
        key: vec!["order_id"],
        cols: vec![
            col("order_id", "order_id", Kind::Key, Int32, Int64, false),
            col("tenant_id", "tenant_id", Kind::Tenant, Int32, Int64, false),
            col(
                "vehicle_id",
                "vehicle_id",
                Kind::Ref(vehicles),
                Int32,
                Int64,
                false,
            ),
            col("status", "status", Kind::Status, Utf8, Utf8, true),
            col("opened_on", "opened_on", Kind::Date, Date32, Date32, true),
            col(
                "opened_at",
                "opened_at",
                Kind::Ts,
                ty::naive(),
                ty::tz(),
                true,
            ),
            col(
                "mileage",
                "mileage",
                Kind::Int(0, 400_000),
                Int32,
                Int64,
                true,
            ),
            col(
                "parts_total",
                "parts_total",
                Kind::Money(2, 5_000),
                ty::dec(12, 2),
                ty::dec(18, 4),
                false,
            ),
            col(
                "labor_total",
                "labor_total",
                Kind::Money(2, 2_000),
                ty::dec(12, 2),
                ty::dec(18, 4),
                false,
            ),
            col(
                "vat_amount",
                "vat_amount",
                Kind::Money(2, 1_000),
                ty::dec(12, 2),
                ty::dec(18, 4),
                false,
            ),
            // final = parts + labor + vat: the invariant the checks hold.
            col(
                "final_amount",
                "total_amount",
                Kind::Sum(7, 8, 9),
                ty::dec(12, 2),
                ty::dec(18, 4),
                true,
            ),
            col(
                "discount_rate",
                "discount_rate",
                Kind::Rate,
                Float32,
                Float64,
                true,
            ),
            col(
                "is_warranty",
                "is_warranty",
                Kind::Flag,
                Int8,
                Boolean,
                true,
            ),
            col("notes", "notes", Kind::Note, Utf8, Utf8, true),
        ],
        rates: Rates {
            missing: 0.002,
            changed: 0.008,
            extra: 0.002,
            duplicate: 0.0,
            null_key: 0.0,
            cosmetic: 0.0,
        },
        cosmetic_col: None,
        legacy_only: Vec::new(),
        swap_col: None,
    }
}

/// The ERP's invoices, each for an order.
fn erp_invoices(rows: u64) -> Spec {
    use DataType::{Boolean, Int8, Int32, Int64, Utf8};
    Spec {
        name: "invoices",
        legacy: "invoices",
        target: "invoices",
        rows: (rows * 4 / 5).max(10),
        key: vec!["tenant_id", "invoice_no"],
        cols: vec![
            col("tenant_id", "tenant_id", Kind::Tenant, Int32, Int64, false),
            col(
                "invoice_no",
                "invoice_no",
                Kind::InvoiceNo,
                Utf8,
                Utf8,
                false,
            ),
            col("order_id", "order_id", Kind::Ref(rows), Int32, Int64, false),
            col(
                "issued_at",
                "issued_at",
                Kind::Ts,
                ty::naive(),
                ty::tz(),
                false,
            ),
            col(
                "amount",
                "amount",
                Kind::Money(3, 9_000),
                ty::dec(12, 3),
                ty::dec(18, 3),
                true,
            ),
            col(
                "tax",
                "tax",
                Kind::Money(3, 1_000),
                ty::dec(12, 3),
                ty::dec(18, 3),
                false,
            ),
            col("currency", "currency", Kind::Currency, Utf8, Utf8, false),
            col("paid", "paid", Kind::Flag, Int8, Boolean, false),
        ],
        rates: Rates {
            missing: 0.001,
            changed: 0.003,
            extra: 0.001,
            duplicate: 0.001,
            null_key: 0.001,
            cosmetic: 0.01,
        },
        cosmetic_col: Some("tax"),
        legacy_only: Vec::new(),
        swap_col: None,
    }
}
