//! Reads the topic list of a standard `ConsumerProtocol` subscription (the metadata Kafka
//! consumers send in JoinGroup for protocol type "consumer"), to tell whether a group is still
//! subscribed to a topic (OffsetDelete). Every version starts with the version-0 fields
//! (version, topics), so only that prefix is read and later versions need no changes here.
//!
//! Hand-rolled rather than kafka-protocol's decoder: that one sizes vectors from the declared
//! element count before reading them, which metadata from an untrusted client must not do.

/// The subscribed topic names, or `None` when the bytes are not a consumer subscription.
pub fn subscribed_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut rest = metadata;
    let _version = take_i16(&mut rest)?;
    let count = take_i32(&mut rest)?;
    let count = usize::try_from(count).ok()?;
    // Each name costs at least its 2-byte length, so a count beyond that is a lie.
    if count > rest.len() / 2 {
        return None;
    }
    let mut topics = Vec::with_capacity(count);
    for _ in 0..count {
        let len = usize::try_from(take_i16(&mut rest)?).ok()?;
        let (name, tail) = rest.split_at_checked(len)?;
        topics.push(std::str::from_utf8(name).ok()?.to_string());
        rest = tail;
    }
    Some(topics)
}

fn take_i16(rest: &mut &[u8]) -> Option<i16> {
    let (head, tail) = rest.split_first_chunk::<2>()?;
    *rest = tail;
    Some(i16::from_be_bytes(*head))
}

fn take_i32(rest: &mut &[u8]) -> Option<i32> {
    let (head, tail) = rest.split_first_chunk::<4>()?;
    *rest = tail;
    Some(i32::from_be_bytes(*head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::messages::ConsumerProtocolSubscription;
    use kafka_protocol::protocol::{Encodable, StrBytes};

    fn encoded(version: i16, topics: &[&str]) -> Vec<u8> {
        let subscription = ConsumerProtocolSubscription::default().with_topics(
            topics
                .iter()
                .map(|t| StrBytes::from_string(t.to_string()))
                .collect(),
        );
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&version.to_be_bytes());
        subscription.encode(&mut buf, version).expect("encodes");
        buf.to_vec()
    }

    #[test]
    fn reads_topics_of_every_subscription_version() {
        for version in 0..=3 {
            assert_eq!(
                subscribed_topics(&encoded(version, &["orders", "payments"])),
                Some(vec!["orders".to_string(), "payments".to_string()]),
                "version {version}"
            );
        }
        assert_eq!(subscribed_topics(&encoded(1, &[])), Some(vec![]));
    }

    #[test]
    fn garbage_is_not_a_subscription() {
        assert_eq!(subscribed_topics(&[]), None);
        assert_eq!(subscribed_topics(&[0, 1, 0]), None);
        // A huge declared count with no bytes behind it.
        assert_eq!(subscribed_topics(&[0, 0, 0x7f, 0xff, 0xff, 0xff]), None);
        // A name running past the end.
        assert_eq!(subscribed_topics(&[0, 0, 0, 0, 0, 1, 0, 9, b'a']), None);
        assert_eq!(subscribed_topics(&[0, 0, 0, 0, 0, 1, 0xff, 0xff]), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = subscribed_topics(&bytes);
        }
    }
}
