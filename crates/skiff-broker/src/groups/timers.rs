//! When each group next needs attention. The coordinator keeps one entry per group: the
//! earliest deadline it knows of (it may be early, never late), so a heartbeat that moves a
//! session deadline later costs nothing here and the timer task visits only due groups.

use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Default)]
pub struct TimerQueue {
    by_time: BTreeSet<(u64, String)>,
    by_group: HashMap<String, u64>,
}

impl TimerQueue {
    /// The earliest registered deadline of any group.
    pub fn next(&self) -> Option<u64> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// Registers `at` unless the group already has an earlier deadline. True when this moved
    /// the earliest deadline of all, so the timer task must wake up sooner.
    pub fn lower(&mut self, group_id: &str, at: u64) -> bool {
        if self
            .by_group
            .get(group_id)
            .is_some_and(|current| *current <= at)
        {
            return false;
        }
        let earliest_before = self.next();
        self.replace(group_id, Some(at));
        earliest_before.is_none_or(|e| at < e)
    }

    /// Sets the group's deadline exactly (after its timers ran), or clears it.
    pub fn set(&mut self, group_id: &str, at: Option<u64>) -> bool {
        let earliest_before = self.next();
        self.replace(group_id, at);
        at.is_some_and(|at| earliest_before.is_none_or(|e| at < e))
    }

    fn replace(&mut self, group_id: &str, at: Option<u64>) {
        if let Some(old) = self.by_group.remove(group_id) {
            self.by_time.remove(&(old, group_id.to_string()));
        }
        if let Some(at) = at {
            self.by_group.insert(group_id.to_string(), at);
            self.by_time.insert((at, group_id.to_string()));
        }
    }

    /// Removes and returns every group whose deadline is at or before `now`.
    pub fn pop_due(&mut self, now: u64) -> Vec<String> {
        let mut due = Vec::new();
        while let Some((at, _)) = self.by_time.first() {
            if *at > now {
                break;
            }
            if let Some((_, group_id)) = self.by_time.pop_first() {
                self.by_group.remove(&group_id);
                due.push(group_id);
            }
        }
        due
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_group.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_earliest_deadline_per_group_and_pops_in_time_order() {
        let mut timers = TimerQueue::default();
        assert!(timers.lower("a", 100));
        assert!(
            !timers.lower("a", 150),
            "a later deadline does not replace an earlier one"
        );
        assert!(timers.lower("b", 50));
        assert!(!timers.lower("c", 70));
        assert_eq!(timers.next(), Some(50));
        assert_eq!(timers.pop_due(80), vec!["b".to_string(), "c".to_string()]);
        assert_eq!(timers.len(), 1);
        // Moving a deadline later never asks the timer task to wake sooner.
        assert!(!timers.set("a", Some(300)));
        assert_eq!(timers.next(), Some(300));
        assert!(timers.pop_due(299).is_empty());
        assert!(!timers.set("a", None));
        assert_eq!(timers.next(), None);
        assert!(timers.set("d", Some(10)), "a first deadline wakes the task");
    }
}
