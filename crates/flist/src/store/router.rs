//! Routing blocks to stores by the first byte of their id: sharding when ranges split, replication when they overlap.
//!
//! A route is an inclusive byte range `start..=end` and a store; block `id`
//! belongs to every route whose range contains `id[0]`. This is the `.fl`
//! `route` table (`start`, `end`, `url`) turned into live stores.

use std::collections::HashSet;

use super::{open_store, BlockStore, StoreError};
use crate::block::content_id;

/// One `(start, end, store)` row.
struct Route {
    start: u8,
    end: u8,
    store: Box<dyn BlockStore>,
}

impl Route {
    fn covers(&self, prefix: u8) -> bool {
        (self.start..=self.end).contains(&prefix)
    }
}

/// Stores chosen per block by id prefix.
///
/// Writes go to every matching store and fail if any of them fails. Reads try
/// the matching stores in the order they were added and return the first hit
/// whose bytes hash to the id; a store that errors or serves corrupt bytes is
/// logged and skipped, so one replica being down or damaged does not fail a
/// read another replica can serve.
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
}

impl Router {
    /// A router without routes; every operation fails with [`StoreError::NoRoute`] until one is added.
    pub fn new() -> Router {
        Router::default()
    }

    /// Adds `store` for ids whose first byte is in `start..=end` (a range with `start > end` matches nothing).
    pub fn add(&mut self, start: u8, end: u8, store: Box<dyn BlockStore>) {
        self.routes.push(Route { start, end, store });
    }

    /// Parses a route spec and opens its store: see [`Router::parse_spec`] and [`open_store`].
    pub fn add_spec(&mut self, spec: &str) -> Result<(), StoreError> {
        let (start, end, url) = Router::parse_spec(spec)?;
        self.add(start, end, open_store(&url)?);
        Ok(())
    }

    /// Splits `xx-yy=url` (two hex bytes each) into its range and URL; a plain URL covers `00-ff`.
    pub fn parse_spec(spec: &str) -> Result<(u8, u8, String), StoreError> {
        let Some((range, url)) = spec.split_once('=').filter(|(r, _)| !r.contains("://")) else {
            return Ok((0x00, 0xff, spec.to_string()));
        };
        let bad = |reason: &str| StoreError::Url {
            url: super::url::redact(spec),
            reason: reason.to_string(),
        };
        let hex_byte = |s: &str| {
            (s.len() == 2)
                .then(|| u8::from_str_radix(s, 16).ok())
                .flatten()
                .ok_or_else(|| bad("a route range is two hex bytes, like 00-7f"))
        };
        let (start, end) = range
            .split_once('-')
            .ok_or_else(|| bad("a route range is two hex bytes, like 00-7f"))?;
        let (start, end) = (hex_byte(start)?, hex_byte(end)?);
        if start > end {
            return Err(bad("a route range must not end before it starts"));
        }
        if url.is_empty() {
            return Err(bad("missing store URL after '='"));
        }
        Ok((start, end, url.to_string()))
    }

    /// The routes as `(start, end, url)` rows, passwords removed, in the order they were added.
    pub fn routes(&self) -> Vec<(u8, u8, String)> {
        self.routes
            .iter()
            .map(|r| (r.start, r.end, r.store.url()))
            .collect()
    }

    /// Whether no route has been added.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The stores whose range contains `id[0]`, in order.
    fn matching(&self, id: &[u8; 32]) -> impl Iterator<Item = &dyn BlockStore> {
        let prefix = id[0];
        self.routes
            .iter()
            .filter(move |r| r.covers(prefix))
            .map(|r| r.store.as_ref())
    }

    /// Asks each matching store in turn until `ask` gives `Some`; `None` when all
    /// miss, the last error when none hit and some failed.
    fn first_hit<T>(
        &self,
        id: &[u8; 32],
        what: &str,
        ask: impl Fn(&dyn BlockStore) -> Result<Option<T>, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let mut matched = false;
        let mut last_error = None;
        for store in self.matching(id) {
            matched = true;
            match ask(store) {
                Ok(Some(found)) => return Ok(Some(found)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(
                        "failed to {what} block {} in {}: {e}; trying the next store",
                        hex::encode(id),
                        store.url()
                    );
                    last_error = Some(e);
                }
            }
        }
        match (matched, last_error) {
            (false, _) => Err(StoreError::NoRoute(id[0])),
            (true, Some(e)) => Err(e),
            (true, None) => Ok(None),
        }
    }
}

impl BlockStore for Router {
    fn get(&self, id: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        self.first_hit(id, "read", |s| match s.get(id)? {
            // Checking the id here, not only in the decoder, lets a damaged
            // replica be skipped in favour of a good one.
            Some(bytes) if content_id(&bytes) != *id => Err(StoreError::Corrupt {
                url: s.url(),
                id: hex::encode(id),
            }),
            found => Ok(found),
        })
    }

    /// Writes to every matching store, even after one fails, and returns the first failure.
    fn put(&self, id: &[u8; 32], data: &[u8]) -> Result<(), StoreError> {
        let mut matched = false;
        let mut first_error = None;
        for store in self.matching(id) {
            matched = true;
            if let Err(e) = store.put(id, data) {
                match first_error {
                    None => first_error = Some(e),
                    Some(_) => tracing::warn!(
                        "failed to write block {} to {}: {e}",
                        hex::encode(id),
                        store.url()
                    ),
                }
            }
        }
        match (matched, first_error) {
            (false, _) => Err(StoreError::NoRoute(id[0])),
            (true, Some(e)) => Err(e),
            (true, None) => Ok(()),
        }
    }

    fn exists(&self, id: &[u8; 32]) -> Result<bool, StoreError> {
        let found = self.first_hit(id, "look up", |s| Ok(s.exists(id)?.then_some(())))?;
        Ok(found.is_some())
    }

    /// An id is missing when any matching store lacks it, since a write goes
    /// to all of them; each store is asked once, about the ids it covers.
    fn missing(&self, ids: &[[u8; 32]]) -> Result<Vec<[u8; 32]>, StoreError> {
        if let Some(id) = ids.iter().find(|id| self.matching(id).next().is_none()) {
            return Err(StoreError::NoRoute(id[0]));
        }
        let mut lacking = HashSet::new();
        for route in &self.routes {
            let covered: Vec<[u8; 32]> = ids
                .iter()
                .filter(|id| route.covers(id[0]))
                .copied()
                .collect();
            if !covered.is_empty() {
                lacking.extend(route.store.missing(&covered)?);
            }
        }
        Ok(ids
            .iter()
            .filter(|id| lacking.contains(*id))
            .copied()
            .collect())
    }

    fn sync(&self) -> Result<(), StoreError> {
        for route in &self.routes {
            route.store.sync()?;
        }
        Ok(())
    }

    /// The routes as space-separated specs, `00-7f=dir:///a 80-ff=zdb://host/ns`.
    fn url(&self) -> String {
        self.routes()
            .iter()
            .map(|(start, end, url)| format!("{start:02x}-{end:02x}={url}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(spec: &str, expected: Result<(u8, u8, &str), &str>) {
        match (Router::parse_spec(spec), expected) {
            (Ok((s, e, url)), Ok((es, ee, eurl))) => {
                assert_eq!((s, e, url.as_str()), (es, ee, eurl))
            }
            (Err(err), Err(msg)) => assert_eq!(err.to_string(), msg),
            (got, want) => panic!("{spec}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn specs() {
        check("dir:///x", Ok((0, 255, "dir:///x")));
        check("00-7f=dir:///x", Ok((0, 0x7f, "dir:///x")));
        check("80-FF=zdb://h/ns", Ok((0x80, 0xff, "zdb://h/ns")));
        check("10-10=dir:///x", Ok((0x10, 0x10, "dir:///x")));
        // an '=' inside the URL is not a range separator
        check(
            "zdb:///run/zdb.sock?ns=a",
            Ok((0, 255, "zdb:///run/zdb.sock?ns=a")),
        );
        check(
            "00-7f=zdb:///s.sock?ns=a",
            Ok((0, 0x7f, "zdb:///s.sock?ns=a")),
        );
        check(
            "7f-00=dir:///x",
            Err("store URL 7f-00=dir:///x: a route range must not end before it starts"),
        );
        check(
            "0-7f=dir:///x",
            Err("store URL 0-7f=dir:///x: a route range is two hex bytes, like 00-7f"),
        );
        check(
            "007f=dir:///x",
            Err("store URL 007f=dir:///x: a route range is two hex bytes, like 00-7f"),
        );
        check(
            "00-ff=",
            Err("store URL 00-ff=: missing store URL after '='"),
        );
    }

    #[test]
    fn empty_router_has_no_route() {
        let r = Router::new();
        assert!(r.is_empty());
        assert!(matches!(r.get(&[0x42; 32]), Err(StoreError::NoRoute(0x42))));
        assert!(matches!(r.put(&[0; 32], b"x"), Err(StoreError::NoRoute(0))));
        assert!(matches!(
            r.exists(&[0xff; 32]),
            Err(StoreError::NoRoute(0xff))
        ));
        assert!(r.missing(&[]).unwrap().is_empty());
        assert!(matches!(
            r.missing(&[[0x42; 32]]),
            Err(StoreError::NoRoute(0x42))
        ));
    }

    /// With replicas, an id one of them lacks is missing: a write must reach it too.
    #[test]
    fn missing_from_any_replica() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut r = Router::new();
        r.add(
            0x00,
            0xff,
            Box::new(super::super::DirStore::new(a.path()).unwrap()),
        );
        r.add(
            0x80,
            0xff,
            Box::new(super::super::DirStore::new(b.path()).unwrap()),
        );
        let (low, high, absent) = ([0x10; 32], [0x90; 32], [0x20; 32]);
        r.put(&low, b"low").unwrap();
        r.put(&high, b"high").unwrap();
        assert!(r.missing(&[absent, low, high]).unwrap() == vec![absent]);
        // `high` only in the first store: the second (which covers it) lacks it.
        std::fs::remove_dir_all(b.path()).unwrap();
        assert!(r.missing(&[high, low, absent]).unwrap() == vec![high, absent]);
    }
}
