use std::collections::HashMap;

pub const MAX_LINES: usize = 2000;

pub struct Ledger {
    entries: HashMap<String, Entry>,
}

pub enum Entry {
    Debit(u64),
    Credit(u64),
}

pub trait Total {
    fn total(&self) -> u64;
}

impl Total for Ledger {
    fn total(&self) -> u64 {
        self.entries.values().map(amount).sum()
    }
}

pub fn amount(entry: &Entry) -> u64 {
    match entry {
        Entry::Debit(value) | Entry::Credit(value) => *value,
    }
}

macro_rules! ledger {
    () => {
        Ledger { entries: HashMap::new() }
    };
}
