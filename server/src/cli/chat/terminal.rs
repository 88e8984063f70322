//! The terminal as `openbolt chat`'s front end: files straight to disk, commands asked about on the
//! terminal (while a question is open everything else waits below it).

use super::printer::SharedPrinter;
use crate::actions::approval::{Approval, ApprovalRequest, Approver, FixedApprover, Subject};
use crate::actions::{DiskWriter, FileWriter};
use crate::conversation::FrontEnd;
use futures::future::BoxFuture;

/// The terminal as a front end: files straight to disk, commands asked about on the terminal.
pub(super) struct Terminal {
    pub(super) printer: SharedPrinter,
    /// Standard input is a terminal to ask on.
    pub(super) ask: bool,
}

impl FrontEnd for Terminal {
    fn writer(&self) -> Box<dyn FileWriter> {
        Box::new(DiskWriter)
    }

    fn approver(&self) -> Box<dyn Approver> {
        if self.ask {
            Box::new(TerminalApprover {
                printer: self.printer.clone(),
            })
        } else {
            Box::new(FixedApprover(Approval::Skip(
                "not approved: commands need approval, and there is no terminal to ask on (pass --yes)"
                    .to_owned(),
            )))
        }
    }
}

/// Asks on the terminal: run, always, or skip. While the question is open, whatever else comes (the
/// model's prose, other output) waits below it, so the question stays in view.
pub(super) struct TerminalApprover {
    printer: SharedPrinter,
}

impl Approver for TerminalApprover {
    fn approve<'a>(&'a self, request: &'a ApprovalRequest) -> BoxFuture<'a, Approval> {
        Box::pin(async move {
            let question = match request.subject {
                Subject::Command | Subject::DevServer => format!(
                    "  ? run {} `{}`? [y]es, [a]lways this session, [n]o: ",
                    request.subject.action_type().unwrap_or_default(),
                    request.command
                ),
                Subject::Tool => format!(
                    "  ? {} {}? [y]es, [a]lways this tool, [n]o: ",
                    request.subject.what(),
                    request.command
                ),
                Subject::McpServer => format!(
                    "  ? {} {}? [y]es, [n]o: ",
                    request.subject.what(),
                    request.command
                ),
            };
            self.printer.lock().ask(&question);
            let answer = read_line()
                .await
                .map(|line| line.trim().to_ascii_lowercase());
            self.printer.lock().answered();
            match answer {
                Some(answer) if answer == "y" || answer == "yes" => Approval::Run,
                Some(answer) if answer == "a" || answer == "always" => Approval::AlwaysThisSession,
                _ => Approval::Skip("the user declined to run it".to_owned()),
            }
        })
    }
}

/// A line from standard input (off the async threads); `None` at its end.
pub(super) async fn read_line() -> Option<String> {
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line),
        }
    })
    .await
    .ok()
    .flatten()
}
