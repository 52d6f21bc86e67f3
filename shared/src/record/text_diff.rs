//! Turning "the text is now this" into the smallest set of character
//! splices, so that concurrent edits of the same text merge character-wise.
//!
//! A phone's form hands us the whole new text of a description or a note.
//! Replacing the whole Text object would make a concurrent edit on another
//! phone vanish (its characters would belong to a deleted run). Instead we
//! compute which characters were deleted and inserted — a minimal edit
//! script (Myers' O(ND) algorithm, after trimming the common prefix and
//! suffix) — and apply only those.
//!
//! The diff works on Unicode characters (scalar values). Automerge counts
//! text positions in the document's own units (code points by default,
//! UTF-8 bytes or UTF-16 code units in some builds); [`to_units`] converts.

use automerge::TextEncoding;

/// Edit distance beyond which the middle of the text is replaced as one
/// block: a rewrite that large is not a small edit to merge around, and
/// the search stays bounded (time O((N+M)·D), memory O(D²)).
const MAX_EDIT_DISTANCE: usize = 1_000;

/// Replace `delete` characters of the old text, starting at character
/// `at`, with `insert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Splice {
    pub at: usize,
    pub delete: usize,
    pub insert: String,
}

/// The splices that turn `old` into `new`, in ascending order of position
/// in `old`, not overlapping. Applying them from last to first keeps the
/// positions of the earlier ones valid.
pub(crate) fn diff(old: &str, new: &str) -> Vec<Splice> {
    let a: Vec<char> = old.chars().collect();
    let b: Vec<char> = new.chars().collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let a_mid = &a[prefix..a.len() - suffix];
    let b_mid = &b[prefix..b.len() - suffix];
    if a_mid.is_empty() && b_mid.is_empty() {
        return Vec::new();
    }
    let whole_middle = || {
        vec![Splice {
            at: prefix,
            delete: a_mid.len(),
            insert: b_mid.iter().collect(),
        }]
    };
    if a_mid.is_empty() || b_mid.is_empty() {
        return whole_middle();
    }
    match edit_script(a_mid, b_mid, MAX_EDIT_DISTANCE) {
        Some(script) => group(&script, b_mid, prefix),
        None => whole_middle(),
    }
}

/// One step of an edit script: delete the old character at `old`, or insert
/// the new character `new` before old position `old`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Delete { old: usize },
    Insert { old: usize, new: usize },
}

/// A shortest edit script from `a` to `b` (Myers), or `None` if it needs
/// more than `max_distance` steps.
fn edit_script(a: &[char], b: &[char], max_distance: usize) -> Option<Vec<Step>> {
    let n = a.len() as isize;
    let m = b.len() as isize;
    let bound = max_distance.min(a.len() + b.len()) as isize;
    // trace[d][k + d] = the furthest x on diagonal k after d steps.
    let mut trace: Vec<Vec<isize>> = Vec::new();
    for d in 0..=bound {
        let mut row = vec![0isize; (2 * d + 1) as usize];
        for k in (-d..=d).step_by(2) {
            let mut x = if d == 0 {
                0
            } else {
                let prev = &trace[(d - 1) as usize];
                let at = |k: isize| prev[(k + d - 1) as usize];
                if k == -d || (k != d && at(k - 1) < at(k + 1)) {
                    at(k + 1)
                } else {
                    at(k - 1) + 1
                }
            };
            let mut y = x - k;
            while x < n && y < m && a[x as usize] == b[y as usize] {
                x += 1;
                y += 1;
            }
            row[(k + d) as usize] = x;
            if x >= n && y >= m {
                trace.push(row);
                return Some(backtrack(&trace, n, m));
            }
        }
        trace.push(row);
    }
    None
}

fn backtrack(trace: &[Vec<isize>], n: isize, m: isize) -> Vec<Step> {
    let mut steps = Vec::new();
    let (mut x, mut y) = (n, m);
    for d in (1..trace.len() as isize).rev() {
        let prev = &trace[(d - 1) as usize];
        let at = |k: isize| prev[(k + d - 1) as usize];
        let k = x - y;
        let down = k == -d || (k != d && at(k - 1) < at(k + 1));
        let prev_k = if down { k + 1 } else { k - 1 };
        let prev_x = at(prev_k);
        let prev_y = prev_x - prev_k;
        if down {
            steps.push(Step::Insert {
                old: prev_x as usize,
                new: prev_y as usize,
            });
        } else {
            steps.push(Step::Delete {
                old: prev_x as usize,
            });
        }
        x = prev_x;
        y = prev_y;
    }
    steps.reverse();
    steps
}

/// Groups adjacent steps into splices, shifting positions by `offset`.
fn group(steps: &[Step], b: &[char], offset: usize) -> Vec<Splice> {
    let mut splices: Vec<Splice> = Vec::new();
    // End (exclusive, in old positions) of the last splice's deleted run.
    let mut end = usize::MAX;
    for step in steps {
        let (old, deleted, inserted) = match *step {
            Step::Delete { old } => (old, 1, None),
            Step::Insert { old, new } => (old, 0, Some(b[new])),
        };
        match splices.last_mut() {
            Some(last) if old == end => {
                last.delete += deleted;
                last.insert.extend(inserted);
            }
            _ => splices.push(Splice {
                at: old + offset,
                delete: deleted,
                insert: inserted.into_iter().collect(),
            }),
        }
        end = old + deleted;
    }
    splices
}

/// The length of `text` in the units of `encoding`, or `None` for an
/// encoding whose units cannot be counted here (grapheme clusters).
pub(crate) fn to_units(encoding: TextEncoding, text: &str) -> Option<usize> {
    match encoding {
        TextEncoding::UnicodeCodePoint => Some(text.chars().count()),
        TextEncoding::Utf8CodeUnit => Some(text.len()),
        TextEncoding::Utf16CodeUnit => Some(text.encode_utf16().count()),
        TextEncoding::GraphemeCluster => None,
    }
}

/// Applies `splices` (from [`diff`]) to a plain string, as a check.
#[cfg(test)]
fn apply(old: &str, splices: &[Splice]) -> String {
    let mut chars: Vec<char> = old.chars().collect();
    for splice in splices.iter().rev() {
        chars.splice(splice.at..splice.at + splice.delete, splice.insert.chars());
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn splice(at: usize, delete: usize, insert: &str) -> Splice {
        Splice {
            at,
            delete,
            insert: insert.to_owned(),
        }
    }

    #[test]
    fn equal_texts_need_no_splice() {
        assert!(diff("", "").is_empty());
        assert!(diff("宅基地边界", "宅基地边界").is_empty());
    }

    #[test]
    fn a_single_insertion_or_deletion_is_one_splice() {
        assert_eq!(diff("abc", "abXc"), [splice(2, 0, "X")]);
        assert_eq!(diff("abc", "ac"), [splice(1, 1, "")]);
        assert_eq!(diff("", "新"), [splice(0, 0, "新")]);
        assert_eq!(diff("旧", ""), [splice(0, 1, "")]);
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        assert_eq!(diff("张三与李四", "张三与王五李四"), [splice(3, 0, "王五")]);
        assert_eq!(diff("🙂ab", "🙂xb"), [splice(1, 1, "x")]);
    }

    #[test]
    fn separate_edits_stay_separate() {
        let splices = diff("the quick brown fox", "a quick brown cat");
        assert_eq!(apply("the quick brown fox", &splices), "a quick brown cat");
        assert!(splices.len() >= 2, "{splices:?}");
        // The untouched middle is not rewritten.
        assert!(splices.iter().all(|s| s.delete <= 3), "{splices:?}");
    }

    #[test]
    fn a_large_rewrite_falls_back_to_one_block() {
        let old: String = (0..3000)
            .map(|i| if i % 2 == 0 { 'a' } else { 'b' })
            .collect();
        let new: String = (0..3000)
            .map(|i| if i % 3 == 0 { 'c' } else { 'd' })
            .collect();
        let splices = diff(&old, &new);
        assert_eq!(apply(&old, &splices), new);
    }

    #[test]
    fn units_follow_the_document_encoding() {
        let text = "调解🙂";
        assert_eq!(to_units(TextEncoding::UnicodeCodePoint, text), Some(3));
        assert_eq!(to_units(TextEncoding::Utf8CodeUnit, text), Some(10));
        assert_eq!(to_units(TextEncoding::Utf16CodeUnit, text), Some(4));
        assert_eq!(to_units(TextEncoding::GraphemeCluster, text), None);
    }

    proptest! {
        #[test]
        fn splices_turn_old_into_new(old in "[ab调🙂 ]{0,40}", new in "[ab调🙂 ]{0,40}") {
            let splices = diff(&old, &new);
            prop_assert_eq!(apply(&old, &splices), new);
            for pair in splices.windows(2) {
                prop_assert!(pair[0].at + pair[0].delete < pair[1].at);
            }
        }
    }
}
