//! Korean mobile numbers, normalised to `01Xxxxxxxxx`.

use crate::error::{ApiError, ApiResult};
use crate::messages;

/// A phone number from a request, normalised, or the document's 422.
pub fn parse_phone(raw: &str) -> ApiResult<String> {
    normalize(raw).ok_or_else(|| ApiError::validation(messages::INVALID_PHONE.documents))
}

/// `010-1234-5678`, `010 1234 5678`, `+82 10 1234 5678`, `+82-010-...`
/// all become `01012345678`; anything else is `None`.
pub fn normalize(raw: &str) -> Option<String> {
    let compact: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '.' | '(' | ')'))
        .collect();
    let national = match compact.strip_prefix("+82") {
        Some(rest) => format!("0{}", rest.strip_prefix('0').unwrap_or(rest)),
        None => compact,
    };
    let bytes = national.as_bytes();
    let valid = (10..=11).contains(&bytes.len())
        && bytes.iter().all(u8::is_ascii_digit)
        && national.starts_with("01")
        && matches!(bytes[2], b'0' | b'1' | b'6' | b'7' | b'8' | b'9');
    valid.then_some(national)
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn accepted_forms() {
        for raw in [
            "01012345678",
            "010-1234-5678",
            "010 1234 5678",
            "+82 10 1234 5678",
            "+82-10-1234-5678",
            "+8201012345678",
        ] {
            assert_eq!(normalize(raw).as_deref(), Some("01012345678"), "{raw}");
        }
        assert_eq!(normalize("011-123-4567").as_deref(), Some("0111234567"));
    }

    #[test]
    fn refused_forms() {
        for raw in [
            "",
            "0101234567a",
            "02-1234-5678",
            "012-1234-5678",
            "010123456",
            "010123456789",
            "+1 555 1234",
        ] {
            assert_eq!(normalize(raw), None, "{raw}");
        }
    }
}
