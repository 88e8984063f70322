//! The replay provider: streams a recorded reply from a file through the same pipeline as a real model,
//! at a realistic pace, so the whole product can be tried with no key and no network.

use super::{ProviderError, StopReason, StreamItem};
use crate::config::ProviderSettings;
use std::time::Duration;

/// Characters per streamed piece: about what a model's token deltas carry.
const PIECE: usize = 24;

#[derive(Debug)]
pub struct Replay {
    text: String,
    at: usize,
    delay: Duration,
    stopped: bool,
}

pub async fn open(settings: &ProviderSettings) -> Result<Replay, ProviderError> {
    let path = settings.replay_file.clone().unwrap_or_default();
    let text = tokio::fs::read_to_string(&path)
        .await
        .map_err(|error| ProviderError::Replay {
            path: path.display().to_string(),
            message: error.to_string(),
        })?;
    let delay = match settings.replay_bytes_per_second {
        0 => Duration::ZERO,
        rate => Duration::from_secs_f64(PIECE as f64 / rate as f64),
    };
    Ok(Replay {
        text,
        at: 0,
        delay,
        stopped: false,
    })
}

impl Replay {
    pub async fn next(&mut self) -> Option<StreamItem> {
        if self.at >= self.text.len() {
            if self.stopped {
                return None;
            }
            self.stopped = true;
            return Some(StreamItem::Stop(StopReason::EndTurn));
        }
        if !self.delay.is_zero() && self.at > 0 {
            tokio::time::sleep(self.delay).await;
        }
        let mut end = (self.at + PIECE).min(self.text.len());
        while !self.text.is_char_boundary(end) {
            end += 1;
        }
        let piece = self.text[self.at..end].to_owned();
        self.at = end;
        Some(StreamItem::Text(piece))
    }
}
