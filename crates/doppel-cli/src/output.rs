//! Output: tables and colour on a terminal, plain text when piped, JSON with `--json`,
//! progress bars on standard error for anything that can take over a second.

use crate::args::ColorChoice;
use anstyle::{AnsiColor, Style};
use comfy_table::{ContentArrangement, Table, presets};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::time::Duration;

/// Where and how to print.
#[derive(Clone)]
pub struct Output {
    /// Print JSON.
    pub json: bool,
    /// Suppress hints and progress.
    pub quiet: bool,
    stdout_tty: bool,
    stderr_tty: bool,
}

/// Bold.
pub const BOLD: Style = Style::new().bold();
/// Dimmed, for hints.
pub const DIM: Style = Style::new().dimmed();
/// Green, for success.
pub const GOOD: Style = AnsiColor::Green.on_default();
/// Yellow, for warnings (a degraded state).
pub const WARN: Style = AnsiColor::Yellow.on_default();
/// Red, for errors.
pub const BAD: Style = AnsiColor::Red.on_default().bold();

impl Output {
    /// Sets up output from the global flags.
    pub fn new(json: bool, color: ColorChoice, quiet: bool) -> Output {
        let choice = match color {
            ColorChoice::Auto => anstream::ColorChoice::Auto,
            ColorChoice::Always => anstream::ColorChoice::Always,
            ColorChoice::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
        Output { json, quiet, stdout_tty: std::io::stdout().is_terminal(), stderr_tty: std::io::stderr().is_terminal() }
    }

    /// Prints a value as pretty JSON on standard output.
    pub fn print_json(&self, value: &impl serde::Serialize) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        anstream::println!("{text}");
        Ok(())
    }

    /// A table with headers, boxed on a terminal and plain columns when piped.
    pub fn table(&self, headers: &[&str]) -> Table {
        let mut table = Table::new();
        if self.stdout_tty {
            table.load_style(presets::UTF8_HORIZONTAL_ONLY).set_content_arrangement(ContentArrangement::Dynamic);
        } else {
            table.load_style(presets::NOTHING);
        }
        table.set_header(headers.iter().map(|h| h.to_uppercase()));
        table
    }

    /// Prints a table.
    pub fn print_table(&self, table: &Table) {
        if self.stdout_tty {
            anstream::println!("{table}");
        } else {
            // Plain columns: trim the padding comfy-table puts on each line's ends.
            for line in table.to_string().lines() {
                anstream::println!("{}", line.trim());
            }
        }
    }

    /// A section heading.
    pub fn heading(&self, text: &str) {
        if !self.json {
            anstream::println!("\n{BOLD}{text}{BOLD:#}");
        }
    }

    /// A line of plain text (not in JSON mode).
    pub fn line(&self, text: &str) {
        if !self.json {
            anstream::println!("{text}");
        }
    }

    /// A hint for what to do next, dimmed; not shown with `--quiet` or `--json`.
    pub fn hint(&self, text: &str) {
        if !self.json && !self.quiet {
            anstream::println!("{DIM}{text}{DIM:#}");
        }
    }

    /// A success line.
    pub fn success(&self, text: &str) {
        if !self.json {
            anstream::println!("{GOOD}✓{GOOD:#} {text}");
        }
    }

    /// An error and its causes on standard error.
    pub fn error(&self, error: &anyhow::Error) {
        anstream::eprintln!("{BAD}error:{BAD:#} {error}");
        for cause in error.chain().skip(1) {
            anstream::eprintln!("  caused by: {cause}");
        }
    }

    /// A problem in an input, on standard error (several may be printed before the error).
    pub fn problem(&self, text: &str) {
        anstream::eprintln!("{BAD}error:{BAD:#} {text}");
    }

    /// A progress bar on standard error, hidden when not a terminal or with --quiet/--json.
    pub fn progress(&self, total: u64, message: &str) -> ProgressBar {
        if self.quiet || self.json || !self.stderr_tty {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:<28} [{bar:30}] {pos}/{len} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// A spinner with a message, for steps of unknown length.
    pub fn spinner(&self, message: &str) -> ProgressBar {
        if self.quiet || self.json || !self.stderr_tty {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}
