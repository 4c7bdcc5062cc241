//! One member of a classic group.

use bytes::Bytes;

use super::outcome::{JoinResponder, JoinResult, SyncResponder, SyncResult};

/// A protocol a member supports (e.g. an assignor name) with its opaque metadata.
pub type Protocol = (String, Bytes);

#[derive(Debug)]
pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: u64,
    pub rebalance_timeout_ms: u64,
    /// In the member's order of preference.
    pub protocols: Vec<Protocol>,
    pub assignment: Bytes,
    pub awaiting_join: Option<JoinResponder>,
    pub awaiting_sync: Option<SyncResponder>,
    /// Joined but has not yet received a join response: such a member can only be timed out
    /// by the new-member join timeout, since it cannot heartbeat.
    pub is_new: bool,
    /// When the member is considered dead without a heartbeat (coordinator clock, ms).
    pub expires_at: u64,
    /// The member itself reached this coordinator (joined, synced or heartbeated). False for
    /// members loaded from the controller until then.
    pub heard_here: bool,
}

impl Member {
    pub fn metadata(&self, protocol: &str) -> Option<&Bytes> {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m)
    }

    /// The member's most preferred protocol among `candidates`.
    pub fn vote<'a>(&'a self, candidates: &[&str]) -> Option<&'a str> {
        self.protocols
            .iter()
            .map(|(name, _)| name.as_str())
            .find(|name| candidates.contains(name))
    }

    /// Same protocols with the same metadata in the same order.
    pub fn matches(&self, protocols: &[Protocol]) -> bool {
        self.protocols == protocols
    }

    pub fn is_awaiting_join(&self) -> bool {
        self.awaiting_join.is_some()
    }

    pub fn is_awaiting_sync(&self) -> bool {
        self.awaiting_sync.is_some()
    }

    pub fn touch(&mut self, now: u64) {
        self.expires_at = now.saturating_add(self.session_timeout_ms);
        self.heard_here = true;
    }

    /// An offset commit keeps a session alive, as in Kafka, but only once the member has been
    /// heard here: a commit queued at the previous coordinator can arrive after the client has
    /// given its id up (librdkafka drops it at its own session timeout), and must not hold a
    /// rebalance for another session.
    pub fn touch_on_commit(&mut self, now: u64) {
        if self.heard_here {
            self.touch(now);
        }
    }

    /// Sends the join answer if the member waits for one; false if it did not. A client that
    /// went away just drops its end, which is not an error here.
    pub fn complete_join(&mut self, result: JoinResult) -> bool {
        match self.awaiting_join.take() {
            Some(responder) => {
                let _ = responder.send(result);
                true
            }
            None => false,
        }
    }

    pub fn complete_sync(&mut self, result: SyncResult) -> bool {
        match self.awaiting_sync.take() {
            Some(responder) => {
                let _ = responder.send(result);
                true
            }
            None => false,
        }
    }
}
