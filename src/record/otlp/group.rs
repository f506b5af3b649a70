//! Regrouping records by resource and scope for an OTLP request. Records of one origin share
//! one `Arc`, so pointer equality finds almost every group; equal values behind different
//! `Arc`s (two inputs, two connections) are merged too, so no resource is sent twice.

use crate::record::{LogRecord, Resource, Scope};
use std::collections::HashMap;
use std::sync::Arc;

/// The records of one scope within one resource, in arrival order.
pub(crate) struct ScopeGroup<'a> {
    pub scope: &'a Scope,
    pub records: Vec<&'a LogRecord>,
}

/// The scopes of one resource, in order of first appearance.
pub(crate) struct ResourceGroup<'a> {
    pub resource: &'a Resource,
    pub scopes: Vec<ScopeGroup<'a>>,
}

/// Groups `records` by resource, then scope, keeping the order of records within a group.
pub(crate) fn group<'a>(records: impl Iterator<Item = &'a LogRecord>) -> Vec<ResourceGroup<'a>> {
    let mut groups: Vec<ResourceGroup<'a>> = Vec::new();
    let mut by_pointer: HashMap<*const Resource, usize> = HashMap::new();
    // The last record's (resource, scope) pointers and indices: consecutive records almost
    // always share both, which skips every lookup.
    let mut last: Option<(*const Resource, *const Scope, usize, usize)> = None;
    for record in records {
        let (rp, sp) = (Arc::as_ptr(&record.resource), Arc::as_ptr(&record.scope));
        if let Some((lr, ls, ri, si)) = last
            && lr == rp
            && ls == sp
        {
            groups[ri].scopes[si].records.push(record);
            continue;
        }
        let ri = *by_pointer.entry(rp).or_insert_with(|| {
            match groups.iter().position(|g| *g.resource == *record.resource) {
                Some(i) => i,
                None => {
                    groups.push(ResourceGroup {
                        resource: &record.resource,
                        scopes: Vec::new(),
                    });
                    groups.len() - 1
                }
            }
        });
        let scopes = &mut groups[ri].scopes;
        let si = match scopes
            .iter()
            .position(|g| std::ptr::eq(g.scope, sp) || *g.scope == *record.scope)
        {
            Some(i) => i,
            None => {
                scopes.push(ScopeGroup {
                    scope: &record.scope,
                    records: Vec::new(),
                });
                scopes.len() - 1
            }
        };
        scopes[si].records.push(record);
        last = Some((rp, sp, ri, si));
    }
    groups
}
