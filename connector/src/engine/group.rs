//! Per-supplier grouping: several bills of one supplier paid by one Qonto transfer (an
//! organization option, `group_by_supplier`).
//!
//! Each bill keeps its own `transfers` row, so invariant 1 (one live transfer per bill) and
//! everything that follows a bill (its events, its retry) stay per bill. The rows paid together
//! share a `group_id`: the id of the group's first row, which is also the `client_transfer_id`
//! and the note of the one Qonto transfer they make. A [`Unit`] is that Qonto transfer as the
//! engine builds and follows it: one row, or the rows of one group.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::plan::amount_of;
use crate::store::payments::entities::transfer;

/// Qonto's limit for a transfer's `reference` (the SEPA remittance information it sends).
pub(crate) const MAX_REFERENCE: usize = 99;

/// Joins the references of a group's bills.
const SEPARATOR: &str = ", ";

/// A structured creditor reference (ISO 11649: `RF`, two check digits, up to 21 more letters
/// or digits). The supplier's bank matches it exactly, so it is never joined with another
/// bill's reference. Anything shaped like one counts, valid check digits or not: merging a
/// mistyped RF reference would be worse than paying it alone.
pub(crate) fn is_creditor_reference(reference: &str) -> bool {
    let r: Vec<u8> = reference
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    r.len() >= 5
        && r.len() <= 25
        && r[..2].eq_ignore_ascii_case(b"RF")
        && r[2..4].iter().all(u8::is_ascii_digit)
        && r[4..].iter().all(u8::is_ascii_alphanumeric)
}

/// The Qonto transfer a row belongs to: its group's id, or its own id.
pub(crate) fn unit_id(t: &transfer::Model) -> &str {
    t.group_id.as_deref().unwrap_or(&t.id)
}

/// The reference Qonto got for this row's transfer: the bill's own, or the joined references
/// of the bills paid with it (the rows of its group that went out in its chunk's transfer:
/// those that share its Qonto transfer id once it has one, those still planned or just
/// created while it is being recorded).
pub(crate) async fn sent_reference<C: sea_orm::ConnectionTrait>(
    conn: &C,
    t: &transfer::Model,
) -> Result<String, sea_orm::DbErr> {
    use crate::store::payments::transfer_status;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let Some(group) = &t.group_id else {
        return Ok(t.reference.clone());
    };
    let mut q = transfer::Entity::find()
        .filter(transfer::Column::OrgId.eq(t.org_id.clone()))
        .filter(transfer::Column::GroupId.eq(group.clone()))
        .filter(transfer::Column::ChunkId.eq(t.chunk_id.clone()));
    q = match &t.qonto_transfer_id {
        Some(id) => q.filter(transfer::Column::QontoTransferId.eq(id.clone())),
        None => q.filter(
            transfer::Column::Status.is_in([transfer_status::PLANNED, transfer_status::CREATED]),
        ),
    };
    let rows = q.order_by_asc(transfer::Column::Id).all(conn).await?;
    if rows.is_empty() {
        return Ok(t.reference.clone());
    }
    Ok(Unit {
        members: rows.iter().collect(),
    }
    .reference())
}

/// One Qonto transfer: one row, or the rows of one group (ordered by id).
#[derive(Debug)]
pub(crate) struct Unit<'a> {
    pub members: Vec<&'a transfer::Model>,
}

impl<'a> Unit<'a> {
    /// The row whose payee, date and attachments the transfer carries (all members share the
    /// payee and the date; only single-bill units carry an attachment).
    pub fn lead(&self) -> &'a transfer::Model {
        self.members[0]
    }

    pub fn amount(&self) -> Decimal {
        self.members.iter().map(|t| amount_of(t)).sum()
    }

    pub fn amount_cents(&self) -> i64 {
        self.members
            .iter()
            .map(|t| t.amount_cents)
            .fold(0i64, i64::saturating_add)
    }

    /// The bills' references joined (the planner keeps a group within [`MAX_REFERENCE`]; a
    /// member that left the group only shortens it).
    pub fn reference(&self) -> String {
        let joined = self
            .members
            .iter()
            .map(|t| t.reference.as_str())
            .collect::<Vec<_>>()
            .join(SEPARATOR);
        joined.chars().take(MAX_REFERENCE).collect()
    }

    pub fn attachment_ids(&self) -> Vec<String> {
        self.members
            .iter()
            .filter_map(|t| t.attachment_id.clone())
            .collect()
    }
}

/// The units of these rows, in the order of their first row; members ordered by id.
pub(crate) fn units(transfers: &[transfer::Model]) -> Vec<Unit<'_>> {
    let mut out: Vec<Unit<'_>> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for t in transfers {
        match at.get(unit_id(t)) {
            Some(&i) => out[i].members.push(t),
            None => {
                at.insert(unit_id(t), out.len());
                out.push(Unit { members: vec![t] });
            }
        }
    }
    for u in &mut out {
        u.members.sort_by(|a, b| a.id.cmp(&b.id));
    }
    out
}

/// Group the rows of one supplier: same IBAN, payee name, beneficiary, trust and execution
/// date; never a bill with a creditor reference or one above `max_cents` (it needs its invoice
/// attached); a group's joined references fit in [`MAX_REFERENCE`] characters and its total
/// stays within `max_cents`, else a new group starts. Sets `group_id` on every member of a
/// group of two or more (to the id of its smallest row) and clears it everywhere else.
pub(crate) fn group_by_supplier(transfers: &mut [transfer::Model], max_cents: i64) {
    type Key = (
        String,
        String,
        Option<String>,
        bool,
        Option<chrono::NaiveDate>,
    );
    struct Open {
        members: Vec<usize>,
        len: usize,
        cents: i64,
    }
    let mut order: Vec<usize> = (0..transfers.len()).collect();
    order.sort_by(|a, b| transfers[*a].id.cmp(&transfers[*b].id));
    let mut open: HashMap<Key, Open> = HashMap::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in order {
        let t = &transfers[i];
        if is_creditor_reference(&t.reference) || t.amount_cents > max_cents {
            continue;
        }
        let key: Key = (
            t.iban.clone(),
            t.creditor_name.clone(),
            t.beneficiary_id.clone(),
            t.trusted,
            t.scheduled_date,
        );
        let len = t.reference.chars().count();
        let fits = open.get(&key).is_some_and(|g| {
            g.len + SEPARATOR.len() + len <= MAX_REFERENCE
                && g.cents.saturating_add(t.amount_cents) <= max_cents
        });
        if fits {
            if let Some(g) = open.get_mut(&key) {
                g.members.push(i);
                g.len += SEPARATOR.len() + len;
                g.cents = g.cents.saturating_add(t.amount_cents);
            }
        } else if let Some(done) = open.insert(
            key,
            Open {
                members: vec![i],
                len,
                cents: t.amount_cents,
            },
        ) {
            groups.push(done.members);
        }
    }
    groups.extend(open.into_values().map(|g| g.members));
    for t in transfers.iter_mut() {
        t.group_id = None;
    }
    for members in groups.into_iter().filter(|m| m.len() > 1) {
        let lead = transfers[members[0]].id.clone();
        for i in members {
            transfers[i].group_id = Some(lead.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, iban: &str, reference: &str, cents: i64) -> transfer::Model {
        let at = chrono::Utc::now();
        transfer::Model {
            id: id.into(),
            org_id: "org".into(),
            run_id: "run".into(),
            chunk_id: None,
            bill_id: format!("bill-{id}"),
            status: "planned".into(),
            amount: Decimal::new(cents, 2).to_string(),
            amount_cents: cents,
            reference: reference.into(),
            iban: iban.into(),
            creditor_name: "ACME".into(),
            beneficiary_id: None,
            trusted: false,
            vop_result: None,
            vop_matched_name: None,
            vop_decision: None,
            scheduled_date: None,
            attachment_id: None,
            qonto_transfer_id: None,
            failure_reason: None,
            created_at: at,
            updated_at: at,
            submitted_at: None,
            settled_at: None,
            group_id: None,
        }
    }

    const A: &str = "FR7630006000011234567890189";
    const B: &str = "DE89370400440532013000";

    #[test]
    fn creditor_references_are_recognised() {
        assert!(is_creditor_reference("RF18539007547034"));
        assert!(is_creditor_reference("RF18 5390 0754 7034"));
        assert!(is_creditor_reference("rf18539007547034"));
        assert!(!is_creditor_reference("RFQ-2024-001"));
        assert!(!is_creditor_reference("INV-RF18"));
        assert!(!is_creditor_reference("RF1"));
    }

    #[test]
    fn one_supplier_is_grouped_rf_and_large_bills_stay_alone() {
        let mut rows = vec![
            row("t1", A, "INV-1", 10_000),
            row("t2", B, "B-7", 5_000),
            row("t3", A, "INV-2", 20_000),
            row("t4", A, "RF18539007547034", 1_000),
            row("t5", A, "INV-3", 3_000_001),
            row("t6", A, "INV-4", 500),
        ];
        group_by_supplier(&mut rows, 3_000_000);
        let g: Vec<Option<&str>> = rows.iter().map(|t| t.group_id.as_deref()).collect();
        assert_eq!(
            g,
            vec![Some("t1"), None, Some("t1"), None, None, Some("t1")]
        );
        let u = units(&rows);
        assert_eq!(u.len(), 4);
        assert_eq!(u[0].reference(), "INV-1, INV-2, INV-4");
        assert_eq!(u[0].amount_cents(), 30_500);
        assert_eq!(unit_id(u[0].lead()), "t1");
        assert_eq!(u[1].members.len(), 1);
    }

    #[test]
    fn references_beyond_qonto_limit_and_totals_beyond_the_cap_start_a_new_group() {
        let long = "X".repeat(45);
        let mut rows = vec![
            row("t1", A, &format!("{long}1"), 100),
            row("t2", A, &format!("{long}2"), 100),
            row("t3", A, &format!("{long}3"), 100),
        ];
        group_by_supplier(&mut rows, 3_000_000);
        let u = units(&rows);
        assert_eq!(u.len(), 2, "{u:?}");
        assert!(u
            .iter()
            .all(|u| u.reference().chars().count() <= MAX_REFERENCE));
        assert_eq!(u[0].members.len(), 2);

        let mut rows = vec![
            row("t1", A, "I1", 2_000_000),
            row("t2", A, "I2", 2_000_000),
            row("t3", A, "I3", 500_000),
        ];
        group_by_supplier(&mut rows, 3_000_000);
        // t2 would take t1's group over the cap: it opens the next one, which t3 joins.
        assert_eq!(rows[0].group_id, None);
        assert_eq!(rows[1].group_id.as_deref(), Some("t2"));
        assert_eq!(rows[2].group_id.as_deref(), Some("t2"));
    }

    #[test]
    fn different_dates_or_trust_are_different_transfers() {
        let mut rows = vec![row("t1", A, "I1", 100), row("t2", A, "I2", 100)];
        rows[1].scheduled_date = chrono::NaiveDate::from_ymd_opt(2026, 12, 31);
        let mut more = row("t3", A, "I3", 100);
        more.trusted = true;
        more.beneficiary_id = Some("ben".into());
        rows.push(more);
        group_by_supplier(&mut rows, 3_000_000);
        assert!(rows.iter().all(|t| t.group_id.is_none()));
        assert_eq!(units(&rows).len(), 3);
    }
}
