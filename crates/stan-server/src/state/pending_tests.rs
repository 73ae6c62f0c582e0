//! Tests of [`PendingSet`] against a `BTreeMap` model.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn p(deadline: u64) -> Pending {
    Pending { deadline, redeliveries: 0 }
}

#[derive(Clone, Debug)]
enum Op {
    /// Send the next sequence (the common case).
    Next(u64),
    Insert(u64, u64),
    Remove(u64),
    /// Remove the oldest pending message (an in-order ack).
    RemoveFirst,
    SetDeadline(u64, u64),
    /// Keep the sequences not divisible by this.
    Retain(u64),
    Extend(Vec<(u64, u64)>),
}

fn op() -> impl Strategy<Value = Op> {
    let seq = prop_oneof![4 => 0u64..64, 1 => 0u64..5_000, 1 => Just(u64::MAX), 1 => Just(u64::MAX - 1)];
    prop_oneof![
        8 => (1u64..4).prop_map(Op::Next),
        3 => (seq.clone(), 0u64..100).prop_map(|(s, d)| Op::Insert(s, d)),
        4 => seq.clone().prop_map(Op::Remove),
        6 => Just(Op::RemoveFirst),
        2 => (seq.clone(), 0u64..100).prop_map(|(s, d)| Op::SetDeadline(s, d)),
        1 => (2u64..5).prop_map(Op::Retain),
        1 => proptest::collection::vec((seq, 0u64..100), 0..40).prop_map(Op::Extend),
    ]
}

/// Same contents, same order, same answers to lookups; the ends are live
/// and the tombstones bounded.
fn check(set: &PendingSet, model: &BTreeMap<u64, Pending>) {
    assert_eq!(set.len(), model.len());
    let got: Vec<(u64, Pending)> = set.iter().map(|(s, p)| (s, *p)).collect();
    let want: Vec<(u64, Pending)> = model.iter().map(|(s, p)| (*s, *p)).collect();
    assert_eq!(got, want);
    for (&seq, p) in model {
        assert_eq!(set.get(seq), Some(p));
        assert!(set.contains(seq));
        assert!(!set.contains(seq.wrapping_add(1)) || model.contains_key(&seq.wrapping_add(1)));
    }
    assert!(set.slots.front().is_none_or(|s| s.live) && set.slots.back().is_none_or(|s| s.live));
    assert!(set.slots.iter().zip(set.slots.iter().skip(1)).all(|(a, b)| a.seq < b.seq), "sorted");
    assert_eq!(set.slots.iter().filter(|s| s.live).count(), set.len());
    let dead = set.slots() - set.len();
    assert!(dead <= MIN_SWEEP.max(set.len()) + 1, "{dead} tombstones for {} live", set.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn behaves_like_a_btreemap(ops in proptest::collection::vec(op(), 1..300)) {
        let mut set = PendingSet::default();
        let mut model: BTreeMap<u64, Pending> = BTreeMap::new();
        let mut next = 1u64;
        for op in ops {
            match op {
                Op::Next(step) => {
                    next = next.saturating_add(step);
                    prop_assert_eq!(set.insert(next, p(next)), model.insert(next, p(next)));
                }
                Op::Insert(seq, d) => prop_assert_eq!(set.insert(seq, p(d)), model.insert(seq, p(d))),
                Op::Remove(seq) => prop_assert_eq!(set.remove(seq), model.remove(&seq)),
                Op::RemoveFirst => {
                    let first = model.keys().next().copied();
                    if let Some(seq) = first {
                        prop_assert_eq!(set.remove(seq), model.remove(&seq));
                    }
                }
                Op::SetDeadline(seq, d) => {
                    let (a, b) = (set.get_mut(seq), model.get_mut(&seq));
                    prop_assert_eq!(a.is_some(), b.is_some());
                    if let (Some(a), Some(b)) = (a, b) {
                        a.deadline = d;
                        b.deadline = d;
                    }
                }
                Op::Retain(k) => {
                    set.retain(|seq, _| seq % k != 0);
                    model.retain(|seq, _| seq % k != 0);
                }
                Op::Extend(entries) => {
                    let entries: Vec<(u64, Pending)> = entries.into_iter().map(|(s, d)| (s, p(d))).collect();
                    set.extend(entries.clone());
                    model.extend(entries);
                }
            }
            check(&set, &model);
        }
        let owned: Vec<(u64, Pending)> = set.clone().into_iter().collect();
        prop_assert_eq!(owned, model.clone().into_iter().collect::<Vec<_>>());
        let mut count = 0;
        for (_, q) in set.iter_mut() {
            q.redeliveries += 1;
            count += 1;
        }
        prop_assert_eq!(count, model.len());
        prop_assert!(set.iter().all(|(_, q)| q.redeliveries == 1));
    }
}

#[test]
fn consecutive_sends_and_in_order_acks_use_no_tombstones() {
    let mut set = PendingSet::default();
    for seq in 1..=1000 {
        set.insert(seq, p(seq));
        if seq > 16 {
            assert_eq!(set.remove(seq - 16), Some(p(seq - 16)));
        }
        assert_eq!(set.slots(), set.len());
    }
    assert_eq!(set.seqs().collect::<Vec<_>>(), (985..=1000).collect::<Vec<_>>());
}

#[test]
fn a_stuck_message_keeps_memory_bounded() {
    // Message 1 is never acked; each later one is acked right away, and out
    // of order every few.
    let mut set = PendingSet::default();
    set.insert(1, p(0));
    for seq in 2..100_000u64 {
        set.insert(seq, p(seq));
        if seq % 3 == 0 {
            set.insert(seq + 1, p(seq + 1));
            set.remove(seq + 1);
        }
        set.remove(seq);
        assert!(set.slots() <= 2 * set.len() + MIN_SWEEP + 2, "{} slots for {}", set.slots(), set.len());
    }
    assert_eq!(set.seqs().collect::<Vec<_>>(), vec![1]);
}

#[test]
fn memory_is_given_back_after_a_burst() {
    let mut set: PendingSet = (1..=100_000u64).map(|seq| (seq, p(seq))).collect();
    for seq in 1..=99_990u64 {
        set.remove(seq);
    }
    assert_eq!(set.len(), 10);
    assert!(set.slots.capacity() <= MIN_SHRINK, "capacity {}", set.slots.capacity());
}

#[test]
fn sparse_sequences_take_a_slot_each() {
    // A member of a 100-member queue group gets every hundredth sequence.
    let set: PendingSet = (0..512u64).map(|i| (i * 100, p(i))).collect();
    assert_eq!(set.slots(), 512);
    assert_eq!(set.get(300), Some(&p(3)));
    assert_eq!(set.get(301), None);
}

#[test]
fn extend_merges_interleaved_entries_and_later_ones_win() {
    let mut set: PendingSet = (0..100u64).map(|i| (2 * i, p(1))).collect();
    set.extend((0..100u64).map(|i| (2 * i + 1, p(2))).chain([(4, p(3)), (4, p(4))]));
    assert_eq!(set.len(), 200);
    assert_eq!(set.seqs().collect::<Vec<_>>(), (0..200).collect::<Vec<_>>());
    assert_eq!(set.get(4), Some(&p(4)));
    assert_eq!(set.get(5), Some(&p(2)));
}
