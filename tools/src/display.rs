//! Terminal output: aligned tables and text made safe to print. Strings that come from
//! the server or from devices (ids, failure reasons) may hold control characters meant to
//! drive the operator's terminal; they are shown with those replaced.

use update_core::api::Outcomes;

/// `text` with control characters replaced by spaces, cut to `max` characters.
pub fn printable(text: &str, max: usize) -> String {
    let mut shown: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if text.chars().count() > max {
        shown.push('…');
    }
    shown
}

/// `95.0% (19 of 20)`, or `n/a` before any update finished.
pub fn success_rate(outcomes: &Outcomes) -> String {
    match outcomes.success_rate() {
        Some(rate) => format!(
            "{:.1}% ({} of {})",
            rate * 100.0,
            outcomes.success,
            outcomes.finished()
        ),
        None => "n/a (no finished updates)".to_string(),
    }
}

/// A byte count for people: `512 B`, `3.2 KiB`, `31.9 MiB`, `1.50 GiB`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let digits = if value < 10.0 { 2 } else { 1 };
    format!("{value:.digits$} {}", UNITS[unit])
}

/// `part` as a percentage of `whole`: `12.5%`, or `-` when `whole` is 0.
pub fn ratio(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".to_string();
    }
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

pub use update_core::error::error_chain;

/// Columns padded to their widest cell.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|row| row.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (cell, width) in row.iter().zip(&widths) {
                line.push_str(&format!("{cell:<width$}  "));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(printable("ok\x1b[2Jbad\n", 100), "ok [2Jbad ");
        assert_eq!(printable("abcdef", 3), "abc…");
    }

    #[test]
    fn table_aligns_columns() {
        let mut table = Table::new(&["A", "BB"]);
        table.push(vec!["long".into(), "x".into()]);
        assert_eq!(table.render(), "A     BB\nlong  x\n");
    }

    #[test]
    fn sizes_and_ratios_read_naturally() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(3 * 1024 + 205), "3.20 KiB");
        assert_eq!(format_bytes(32 << 20), "32.0 MiB");
        assert_eq!(format_bytes(3 << 29), "1.50 GiB");
        assert_eq!(ratio(1, 8), "12.5%");
        assert_eq!(ratio(1, 0), "-");
    }

    #[test]
    fn success_rate_reads_like_a_sentence() {
        let outcomes = Outcomes {
            success: 19,
            failure: 0,
            rolled_back: 1,
        };
        assert_eq!(success_rate(&outcomes), "95.0% (19 of 20)");
        assert!(success_rate(&Outcomes::default()).starts_with("n/a"));
    }
}
