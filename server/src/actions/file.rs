//! `file` actions: a whole file written — refused when it would replace code the model has not seen, or
//! when it stands in for code with a placeholder comment.

use super::{Runner, RunnerReport, diff, edit};
use std::path::Path;

impl Runner {
    /// A file action: the whole file. Refused when it would replace code the model has not seen, or
    /// when it stands in for code with a placeholder comment.
    pub(super) async fn write_file(
        &mut self,
        path: &Path,
        relative: &str,
        content: &str,
        report: &mut RunnerReport,
    ) -> Result<(Option<String>, String), String> {
        if let Some(line) = edit::placeholder(content) {
            return Err(format!(
                "refused: the file stands in for code with a placeholder ({}) — write the whole file, or change part of it with an edit action",
                line.trim()
            ));
        }
        let current = crate::blocking(|| self.writer.current(path));
        if let Some(current) = &current
            && current.as_slice() != content.as_bytes()
            && !self.seen.has_seen(path, current)
        {
            if crate::secrets::is_secret(Path::new(relative.trim())) {
                return Err(format!(
                    "refused: {relative} holds secrets, which you never see, so it is not replaced; tell the user what to set in it"
                ));
            }
            return Err(format!(
                "refused: {relative} exists and you have not seen its current content in this conversation — read it first, or use an edit"
            ));
        }
        Self::remember_previous(path, current.as_deref(), report);
        self.writer
            .write(path, content)
            .await
            .map_err(|error| format!("cannot write {relative}: {error}"))?;
        self.seen.saw(path, content.as_bytes());
        let summary = current.map(|before| {
            let (added, removed) = diff::counts(&String::from_utf8_lossy(&before), content);
            format!("+{added} −{removed}")
        });
        Ok((summary, content.to_owned()))
    }
}
