//! Stripe events in the shapes Stripe sends (fixtures under `fixtures/stripe`, two API
//! versions of invoice.paid) read into what they do to a wallet; and bodies that are not
//! events refused with the field at fault, never a panic.

use proptest::prelude::*;
use switchyard_ledger::PaymentAction;
use switchyard_ops::stripe::{EventError, read_event};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/stripe/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn each_event_type_reads_into_its_action() {
    let cases = [
        (
            "checkout.session.completed",
            PaymentAction::TopUp {
                wallet: "acme/studio".into(),
                customer: Some("cus_acme".into()),
                pack: "500".into(),
                payment: "pi_pack500".into(),
                paid_minor: 4500,
                currency: "usd".into(),
            },
        ),
        (
            "invoice.paid",
            PaymentAction::PlanPaid {
                customer: "cus_acme".into(),
                wallet: Some("acme/studio".into()),
                plan: Some("pro".into()),
                seats: 1,
                payment: Some("pi_pro_dec".into()),
                period_start_ms: 1_796_083_200_000,
                paid_minor: 2900,
                currency: "usd".into(),
            },
        ),
        (
            "invoice.paid.basil",
            PaymentAction::PlanPaid {
                customer: "cus_globex".into(),
                wallet: Some("globex/pool".into()),
                plan: Some("team-seat".into()),
                seats: 3,
                payment: None,
                period_start_ms: 1_796_083_200_000,
                paid_minor: 15000,
                currency: "usd".into(),
            },
        ),
        (
            "invoice.payment_failed",
            PaymentAction::PaymentFailed {
                customer: "cus_acme".into(),
                wallet: None,
                invoice: "in_pro_jan".into(),
                attempt: 2,
            },
        ),
        ("charge.refunded", PaymentAction::Refunded { payment: "pi_pack500".into(), refunded_minor: 4500 }),
        (
            "charge.succeeded",
            PaymentAction::Charged { payment: "pi_pack500".into(), method: "card:Xt5EWLLDS7FJjR1c".into() },
        ),
        (
            "charge.dispute.created",
            PaymentAction::Disputed {
                payment: "pi_pack500".into(),
                dispute: "dp_pack500".into(),
                reason: "fraudulent".into(),
            },
        ),
        (
            "customer.subscription.updated",
            PaymentAction::PlanChanged {
                customer: "cus_acme".into(),
                wallet: Some("acme/studio".into()),
                subscription: "sub_acme".into(),
                plan: Some("pro-plus".into()),
                status: "active".into(),
            },
        ),
        (
            "customer.subscription.deleted",
            PaymentAction::PlanEnded {
                customer: "cus_acme".into(),
                wallet: Some("acme/studio".into()),
                subscription: "sub_acme".into(),
            },
        ),
    ];
    for (name, expected) in cases {
        let event = read_event(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(event.action, expected, "{name}");
        assert!(event.id.starts_with("evt_"), "{name}");
    }
}

#[test]
fn events_switchyard_does_not_act_on_are_acknowledged_as_ignored() {
    let cases = [
        (r#"{"id":"evt_x","type":"customer.created","data":{"object":{}}}"#, "does not act on customer.created"),
        (
            r#"{"id":"evt_y","type":"checkout.session.completed","data":{"object":{"id":"cs_1","mode":"payment","payment_status":"unpaid"}}}"#,
            "async_payment_succeeded",
        ),
        (
            r#"{"id":"evt_z","type":"checkout.session.completed","data":{"object":{"id":"cs_2","mode":"subscription","payment_status":"paid"}}}"#,
            "its invoice grants",
        ),
    ];
    for (body, why_has) in cases {
        match read_event(body.as_bytes()).unwrap().action {
            PaymentAction::Ignored { why } => assert!(why.contains(why_has), "{body}: {why}"),
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn unreadable_events_name_the_field_at_fault() {
    let cases = [
        ("not json", "not a readable Stripe event"),
        (r#"{"id":"evt_1","data":{"object":{}}}"#, "missing field `type`"),
        (
            r#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs","mode":"payment","payment_status":"paid","metadata":{"pack":"500"}}}}"#,
            "client_reference_id is missing",
        ),
        (
            r#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs","payment_status":"paid","client_reference_id":"a/b"}}}"#,
            "metadata.pack is missing",
        ),
        (r#"{"id":"evt_1","type":"invoice.paid","data":{"object":{"id":"in_1"}}}"#, "customer is missing"),
        (
            r#"{"id":"evt_1","type":"invoice.paid","data":{"object":{"id":"in_1","customer":"cus_1"}}}"#,
            "period.start is missing",
        ),
        (r#"{"id":"evt_1","type":"charge.refunded","data":{"object":{"amount_refunded":"x"}}}"#, "data.object"),
    ];
    for (body, says) in cases {
        let e: EventError = read_event(body.as_bytes()).unwrap_err();
        assert!(e.to_string().contains(says), "{body}: {e}");
    }
}

proptest! {
    /// No body panics the reader: random bytes, and every fixture with a byte changed.
    #[test]
    fn no_body_panics_the_reader(bytes in proptest::collection::vec(any::<u8>(), 0..512), at in any::<usize>(), to in any::<u8>()) {
        let _ = read_event(&bytes);
        for name in ["invoice.paid", "checkout.session.completed", "charge.refunded"] {
            let mut body = fixture(name);
            let i = at % body.len();
            body[i] = to;
            let _ = read_event(&body);
        }
    }
}
