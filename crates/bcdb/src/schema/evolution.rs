//! Whether one version of a schema may follow another (spec §1.5).
//!
//! Objects are read with the newest schema of their url, matched field by field on the field
//! number, so the rules protect the numbers:
//!
//! * a field keeps its number and its type; renaming is fine (the number stays);
//! * new fields take numbers above every number the old version uses, so a number freed by
//!   a deleted field is never handed to another;
//! * a name never moves to another number (that would be renumbering, whatever the intent);
//! * deleting a field is fine (it leaves a gap).
//!
//! Where the spec is silent, the safe rule: "changing a field's type is undefined", so any
//! type change is refused, aliases aside (they resolve to the same type), with one exception:
//! an enum may gain values at the end, because stored objects keep the value's index and old
//! indices keep their meaning. A field may not become unique, since objects already stored
//! may share a value; it may stop being unique, and indexes, defaults, comments and
//! properties may change freely (indexes are rebuilt from the ledger).
//!
//! A pair of versions cannot show a number deleted and then revived in a later version;
//! [`check_history`] checks the whole chain for that.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::types::FieldType;
use super::{Field, Schema};

/// Why a schema version may not follow another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvolutionError {
    /// A different url is a different model, not a new version.
    #[error("url changed from {old:?} to {new:?}: a new url is a new model")]
    UrlChanged {
        /// The old url.
        old: String,
        /// The new url.
        new: String,
    },
    /// A field number now has another type.
    #[error("field {nr} ({name:?}) changed type from {old} to {new}")]
    TypeChanged {
        /// The field number.
        nr: u16,
        /// The field's new name.
        name: String,
        /// The old canonical code.
        old: String,
        /// The new canonical code.
        new: String,
    },
    /// An enum lost, reordered or renamed values (stored indices would change meaning).
    #[error("enum field {nr} ({name:?}) may only gain values at the end: {old:?} -> {new:?}")]
    EnumValuesChanged {
        /// The field number.
        nr: u16,
        /// The field's new name.
        name: String,
        /// The old values.
        old: Vec<String>,
        /// The new values.
        new: Vec<String>,
    },
    /// A field name moved to another number.
    #[error("field {name:?} moved from number {old_nr} to {new_nr}")]
    Renumbered {
        /// The field name.
        name: String,
        /// Its old number.
        old_nr: u16,
        /// Its new number.
        new_nr: u16,
    },
    /// A new field with a number not above the old version's highest.
    #[error("new field {name:?} has number {nr}, not above the highest used so far ({max})")]
    NumberReused {
        /// The new field.
        name: String,
        /// Its number.
        nr: u16,
        /// The old version's highest number.
        max: u16,
    },
    /// An existing field became unique.
    #[error("field {nr} ({name:?}) became unique; stored objects may already share values")]
    UniqueAdded {
        /// The field number.
        nr: u16,
        /// The field name.
        name: String,
    },
    /// A number disappeared in one version and came back in a later one.
    #[error(
        "field number {nr} was deleted in version {deleted_in} and reused in version {reused_in}"
    )]
    NumberRevived {
        /// The field number.
        nr: u16,
        /// Index (in the history) of the first version without it.
        deleted_in: usize,
        /// Index of the version that has it again.
        reused_in: usize,
    },
}

/// Checks that `new` may follow `old` (same url) under the rules of the module doc.
pub fn check_evolution(old: &Schema, new: &Schema) -> Result<(), EvolutionError> {
    if old.url != new.url {
        return Err(EvolutionError::UrlChanged {
            old: old.url.clone(),
            new: new.url.clone(),
        });
    }
    let max_old = old.fields.iter().map(|f| f.nr).max();
    let by_nr: HashMap<u16, &Field> = old.fields.iter().map(|f| (f.nr, f)).collect();
    let by_name: HashMap<String, &Field> = old
        .fields
        .iter()
        .map(|f| (f.name.to_ascii_lowercase(), f))
        .collect();
    for field in &new.fields {
        let same_name = by_name.get(&field.name.to_ascii_lowercase());
        if let Some(before) = same_name.filter(|f| f.nr != field.nr) {
            return Err(EvolutionError::Renumbered {
                name: field.name.clone(),
                old_nr: before.nr,
                new_nr: field.nr,
            });
        }
        let Some(before) = by_nr.get(&field.nr) else {
            match max_old {
                Some(max) if field.nr <= max => {
                    return Err(EvolutionError::NumberReused {
                        name: field.name.clone(),
                        nr: field.nr,
                        max,
                    })
                }
                _ => continue,
            }
        };
        type_follows(&before.kind, &field.kind, field)?;
        if field.unique && !before.unique {
            return Err(EvolutionError::UniqueAdded {
                nr: field.nr,
                name: field.name.clone(),
            });
        }
    }
    Ok(())
}

fn type_follows(old: &FieldType, new: &FieldType, field: &Field) -> Result<(), EvolutionError> {
    match (old, new) {
        (FieldType::Enum(a), FieldType::Enum(b)) if !b.starts_with(a) => {
            Err(EvolutionError::EnumValuesChanged {
                nr: field.nr,
                name: field.name.clone(),
                old: a.clone(),
                new: b.clone(),
            })
        }
        (FieldType::Enum(_), FieldType::Enum(_)) => Ok(()),
        (FieldType::List(Some(a)), FieldType::List(Some(b))) => {
            type_follows(a, b, field).map_err(|e| match e {
                EvolutionError::TypeChanged { .. } => type_changed(old, new, field),
                other => other,
            })
        }
        (a, b) if a == b => Ok(()),
        _ => Err(type_changed(old, new, field)),
    }
}

fn type_changed(old: &FieldType, new: &FieldType, field: &Field) -> EvolutionError {
    EvolutionError::TypeChanged {
        nr: field.nr,
        name: field.name.clone(),
        old: old.code(),
        new: new.code(),
    }
}

/// Checks a whole chain of versions, oldest first: each pair by [`check_evolution`], and no
/// number that one version dropped may appear in a later one.
pub fn check_history(versions: &[Schema]) -> Result<(), EvolutionError> {
    for pair in versions.windows(2) {
        check_evolution(&pair[0], &pair[1])?;
    }
    // nr -> index of the first version that no longer had it
    let mut deleted: BTreeMap<u16, Option<usize>> = BTreeMap::new();
    for (idx, version) in versions.iter().enumerate() {
        let nrs: HashSet<u16> = version.fields.iter().map(|f| f.nr).collect();
        for (nr, gone) in deleted.iter_mut() {
            let present = nrs.contains(nr);
            match *gone {
                Some(deleted_in) if present => {
                    return Err(EvolutionError::NumberRevived {
                        nr: *nr,
                        deleted_in,
                        reused_in: idx,
                    })
                }
                None if !present => *gone = Some(idx),
                _ => {}
            }
        }
        for field in &version.fields {
            deleted.entry(field.nr).or_insert(None);
        }
    }
    Ok(())
}
