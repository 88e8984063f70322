//! `openbolt check-page URL`: the page check turns run on their previews, on any page — to see what a
//! turn would report, and for `bench/page-check.py` (`--repeat` measures a warm browser, `--json` adds
//! the browser's memory beside this process's own).

use crate::browser;
use crate::types::{ImageFormat, PageCheck};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct CheckPageArguments {
    /// The page, e.g. http://localhost:5173/.
    #[arg(required_unless_present = "which")]
    pub url: Option<String>,
    /// Print the browser a turn's page check would use (from the settings files, the environment and
    /// `--browser`) and exit: 0 when one is found, 1 with the reason when not.
    #[arg(long)]
    pub which: bool,
    /// The browser (default: the browserPath setting, else chromium, chromium-browser, google-chrome or
    /// chrome on PATH).
    #[arg(long)]
    pub browser: Option<PathBuf>,
    /// Check the page this many times with the same browser (the first check starts it).
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// One JSON object per check, then `{"browserPssKb", "selfPssKb"}` with the browser idle.
    #[arg(long)]
    pub json: bool,
    /// Keep a screenshot of the settled page here (`.png`: PNG; else JPEG at `--quality`).
    #[arg(long, value_name = "FILE")]
    pub screenshot: Option<PathBuf>,
    /// The screenshot's JPEG quality (1–100).
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: u8,
}

impl CheckPageArguments {
    /// The screenshot's format, as its file's name asks.
    fn format(&self) -> Option<ImageFormat> {
        let path = self.screenshot.as_ref()?;
        let png = path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("png"));
        Some(if png {
            ImageFormat::Png
        } else {
            ImageFormat::Jpeg(self.quality)
        })
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Memory {
    browser_pss_kb: u64,
    self_pss_kb: u64,
}

/// Exit code 0: no problem; 1: the page has problems; 2: it could not be checked.
pub async fn run(arguments: &CheckPageArguments) -> anyhow::Result<u8> {
    let mut options = crate::options::Options::default();
    options.browser_path.clone_from(&arguments.browser);
    let effective = crate::options::effective(&options, std::env::current_dir().ok().as_deref());
    // `previewCheck: off` turns the turns' checks off, not this command.
    let program = browser::find(
        effective.browser_path.as_deref(),
        std::env::var_os("PATH").as_deref(),
    );
    if arguments.which {
        let (line, code) = match (&program, effective.preview_check) {
            (Ok(program), true) => (program.display().to_string(), 0),
            (Ok(program), false) => (
                format!(
                    "{} (previewCheck is off: turns do not check previews)",
                    program.display()
                ),
                0,
            ),
            (Err(why), _) => (why.clone(), 1),
        };
        writeln!(std::io::stdout(), "{line}")?;
        return Ok(code);
    }
    let program = program.map_err(anyhow::Error::msg)?;
    check(arguments, &program, &effective.browser_profile()).await
}

async fn check(
    arguments: &CheckPageArguments,
    program: &std::path::Path,
    profile: &std::path::Path,
) -> anyhow::Result<u8> {
    let browser = browser::shared();
    let mut code = 0;
    let root = std::env::current_dir().ok();
    let mut stdout = std::io::stdout().lock();
    for _ in 0..arguments.repeat.max(1) {
        let url = arguments.url.as_deref().unwrap_or_default();
        let roots = crate::browser::page::Roots {
            workspace: root.as_deref(),
            served: None,
        };
        let mut verdict = browser
            .check(program, profile, url, roots, arguments.format())
            .await;
        if let (Some(capture), Some(path)) = (verdict.capture.take(), &arguments.screenshot) {
            verdict.screenshot = Some(browser::keep(&capture, path)?);
        }
        code = code.max(if verdict.error.is_some() {
            2
        } else {
            u8::from(!verdict.problems.is_empty())
        });
        if arguments.json {
            writeln!(stdout, "{}", serde_json::to_string(&verdict)?)?;
        } else {
            writeln!(
                stdout,
                "{} in {} ({} ms)",
                verdict.url,
                program.display(),
                verdict.millis
            )?;
            for line in lines(&verdict, usize::MAX) {
                writeln!(stdout, "{line}")?;
            }
        }
    }
    if arguments.json {
        let memory = Memory {
            browser_pss_kb: browser.memory_kb(),
            self_pss_kb: crate::browser::pss_kb(std::process::id()),
        };
        writeln!(stdout, "{}", serde_json::to_string(&memory)?)?;
    }
    drop(stdout);
    browser.close().await;
    Ok(code)
}

/// A verdict as the terminal shows it, one line each, with up to `frames` frames per problem (also
/// `openbolt chat`'s lines after a turn).
pub(super) fn lines(check: &PageCheck, frames: usize) -> Vec<String> {
    check
        .lines(frames)
        .into_iter()
        .map(|line| format!("  {line}"))
        .collect()
}
