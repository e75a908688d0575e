//! Reading one PutEvents answer entry by entry: accepted, to be sent again, or refused for good.

use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;

/// Per-entry error codes that fail the same way however often they are sent. Anything else
/// (`ThrottlingException`, `InternalFailure`, codes added later) is retried.
const PERMANENT_CODES: [&str; 7] = [
    "AccessDeniedException",
    "InvalidAccountIdException",
    "InvalidArgument",
    "MalformedDetail",
    "NotAuthorizedForDetailTypeException",
    "NotAuthorizedForSourceException",
    "RedactionFailure",
];

/// A per-entry error from a PutEvents answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryError {
    pub(crate) code: String,
    pub(crate) message: Option<String>,
}

/// One PutEvents answer, read entry by entry. Positions index the entries that were sent.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct BatchOutcome {
    pub(crate) accepted: Vec<(usize, Option<String>)>,
    pub(crate) retry: Vec<(usize, EntryError)>,
    pub(crate) rejected: Vec<(usize, EntryError)>,
}

/// Reads a PutEvents answer for `sent` entries. Result entries line up with request entries; a
/// result missing from a short answer is treated as a transient failure rather than a success.
pub(crate) fn classify(sent: usize, output: &PutEventsOutput) -> BatchOutcome {
    let results = output.entries();
    let mut outcome = BatchOutcome::default();
    for position in 0..sent {
        match results.get(position) {
            Some(result) => match result.error_code() {
                Some(code) => {
                    let error = EntryError {
                        code: code.to_owned(),
                        message: result.error_message().map(str::to_owned),
                    };
                    if PERMANENT_CODES.contains(&code) {
                        outcome.rejected.push((position, error));
                    } else {
                        outcome.retry.push((position, error));
                    }
                }
                None => outcome
                    .accepted
                    .push((position, result.event_id().map(str::to_owned))),
            },
            None => outcome.retry.push((
                position,
                EntryError {
                    code: "MissingResult".to_owned(),
                    message: Some(format!(
                        "PutEvents answered {} results for {sent} entries",
                        results.len()
                    )),
                },
            )),
        }
    }
    let counted = outcome.retry.len() + outcome.rejected.len();
    let reported = output.failed_entry_count();
    if usize::try_from(reported).ok() != Some(counted) {
        tracing::warn!(
            reported,
            counted,
            "PutEvents FailedEntryCount disagrees with its entries"
        );
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{answer, failed, ok};
    use super::*;

    #[test]
    fn answers_are_read_entry_by_entry() {
        let output = answer(vec![
            ok("e0"),
            failed("ThrottlingException"),
            failed("MalformedDetail"),
            failed("InternalFailure"),
            ok("e4"),
        ]);
        let outcome = classify(5, &output);
        assert_eq!(
            outcome.accepted,
            vec![(0, Some("e0".to_owned())), (4, Some("e4".to_owned()))]
        );
        let retry: Vec<_> = outcome
            .retry
            .iter()
            .map(|(p, e)| (*p, e.code.as_str()))
            .collect();
        assert_eq!(retry, [(1, "ThrottlingException"), (3, "InternalFailure")]);
        assert_eq!(outcome.rejected.len(), 1);
        assert_eq!(outcome.rejected[0].0, 2);
        assert_eq!(
            outcome.rejected[0].1.message.as_deref(),
            Some("MalformedDetail happened")
        );
        // A short answer never counts the missing entries as published.
        let short = classify(3, &answer(vec![ok("e0")]));
        assert_eq!(short.accepted.len(), 1);
        assert_eq!(
            short.retry.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
            [1, 2]
        );
    }
}
