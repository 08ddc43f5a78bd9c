//! Every message the API sends, in one catalogue: the documents' text (the
//! default, exact as written), its English, and for errors a stable code.
//!
//! A `Text` serializes in the language of the request being answered (the
//! task-local `LANG`, set from `Accept-Language` once per request), so
//! handlers never pick one.

use serde::{Serialize, Serializer};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// The documents' own text (mostly Korean): the default.
    #[default]
    Documents,
    English,
}

impl Lang {
    /// `Accept-Language: en` (or `en-US`, ... first among the listed) asks for English.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let first = header.and_then(|h| h.split(',').next()).map(|tag| {
            tag.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        match first.as_deref() {
            Some(tag) if tag == "en" || tag.starts_with("en-") => Lang::English,
            _ => Lang::Documents,
        }
    }
}

/// One message in both languages; `code` names it for clients (errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Text {
    pub code: &'static str,
    pub documents: &'static str,
    pub english: &'static str,
}

impl Text {
    pub fn get(self, lang: Lang) -> &'static str {
        match lang {
            Lang::Documents => self.documents,
            Lang::English => self.english,
        }
    }
}

tokio::task_local! {
    /// The language of the request this task answers.
    pub static LANG: Lang;
}

/// The language of the request being answered (the documents' outside a request).
pub fn current_lang() -> Lang {
    LANG.try_with(|lang| *lang).unwrap_or_default()
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.get(current_lang()))
    }
}

impl utoipa::PartialSchema for Text {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        String::schema()
    }
}

impl utoipa::ToSchema for Text {}

macro_rules! texts {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $documents:literal, $english:literal;)*) => {
        $($(#[$doc])* pub const $name: Text = Text { code: $code, documents: $documents, english: $english };)*
        /// Every text of the catalogue (for the docs' table and its test).
        pub const ALL: &[Text] = &[$($name),*];
    };
}

texts! {
    // the contract's generic errors (SPEC: Conventions), English in both documents
    INVALID_TOKEN = "invalid_token", "Invalid token", "Invalid token";
    FORBIDDEN = "forbidden", "Unauthorized access", "Unauthorized access";
    NOT_FOUND = "not_found", "Resource not found", "Resource not found";
    METHOD_NOT_ALLOWED = "method_not_allowed", "Method not allowed", "Method not allowed";
    VALIDATION = "validation_error", "Validation error", "Validation error";
    PAYLOAD_TOO_LARGE = "payload_too_large", "Payload too large", "Payload too large";
    UNAVAILABLE = "service_unavailable", "Service unavailable", "Service unavailable";
    /// Too many heavy jobs (argon2, images) at once.
    BUSY = "server_busy", "Service unavailable", "Service unavailable";
    SERVER_ERROR = "server_error", "Server error", "Server error";

    // accounts
    BAD_USERNAME_LOGIN = "bad_credentials", "아이디 또는 비밀번호가 올바르지 않습니다.", "Wrong username or password.";
    BAD_PHONE_LOGIN = "bad_credentials", "전화번호 또는 비밀번호가 올바르지 않습니다.", "Wrong phone number or password.";
    USERNAME_TAKEN = "username_taken", "이미 사용 중인 아이디입니다.", "This username is taken.";
    PHONE_TAKEN = "phone_taken", "이미 등록된 전화번호입니다.", "This phone number already has an account.";
    PHONE_NOT_VERIFIED = "phone_not_verified", "인증이 완료되지 않은 전화번호입니다. 인증 코드를 확인해주세요.", "This phone number is not verified. Check the verification code.";
    INVALID_PHONE = "invalid_phone", "전화번호 형식이 올바르지 않습니다", "phone_number: not a Korean mobile number";
    LOGIN_LIMITED = "login_rate_limited", "잠시 후 다시 시도해주세요.", "Too many login attempts. Try again later.";
    SIGNUP_LIMITED = "signup_rate_limited", "잠시 후 다시 시도해주세요.", "Too many accounts from this address. Try again later.";
    REGISTER_LIMITED = "register_rate_limited", "잠시 후 다시 시도해주세요.", "Too many registrations from this address. Try again later.";
    SIGNED_UP = "signed_up", "회원가입이 완료되었습니다.", "Signed up.";
    REGISTERED = "registered", "회원가입에 성공했습니다.", "Registered.";
    LOGGED_IN = "logged_in", "로그인에 성공했습니다.", "Logged in.";
    LOGGED_OUT = "logged_out", "로그아웃되었습니다.", "Logged out.";
    PROFILE_UPDATED = "profile_updated", "프로필이 수정되었습니다.", "Profile updated.";

    // SMS verification (the Talk document's bodies)
    SMS_LIMITED = "sms_rate_limited", "잠시 후 다시 시도해주세요.", "Too many codes requested. Try again later.";
    SMS_DAILY_LIMIT = "sms_daily_limit", "일일 인증 코드 발송 한도를 초과했습니다.", "The daily limit of codes for this number is reached.";
    CODE_SENT = "code_sent", "인증 코드가 발송되었습니다.", "Verification code sent.";
    CODE_RESENT = "code_resent", "인증 코드가 재발송되었습니다.", "Verification code sent again.";
    DEV_CODE_NOTE = "dev_code_note", "개발/스테이징 환경에서만 코드가 노출됩니다. 실제 앱에서는 이 코드를 입력해주세요.", "The code is shown in development and staging only. Enter it in the app.";
    CODE_VERIFIED = "code_verified", "인증에 성공했습니다.", "Verified.";
    CODE_MISMATCH = "code_mismatch", "인증 코드가 일치하지 않습니다.", "The code does not match.";
    CODE_ATTEMPTS_EXCEEDED = "code_attempts_exceeded", "인증 시도 횟수를 초과했습니다. 새로운 인증 코드를 요청해주세요.", "Too many attempts. Request a new code.";
    CODE_EXPIRED = "code_expired", "인증 코드가 만료되었거나 존재하지 않습니다. 새로운 인증 코드를 요청해주세요.", "The code expired or does not exist. Request a new code.";

    // matching, calls, history, gems
    SETTINGS_SAVED = "settings_saved", "매칭 조건이 저장되었습니다.", "Matching settings saved.";
    MATCHING_CANCELLED = "matching_cancelled", "매칭 상태가 해제되었습니다.", "You left matching.";
    NOT_ENOUGH_GEMS = "not_enough_gems", "보석이 부족합니다.", "Not enough gems.";
    NOT_MATCHED = "not_matched", "매칭이 성사되지 않은 상대입니다.", "This match was not accepted by both.";
    CALL_ENDED = "call_ended", "통화가 종료되었습니다.", "Call ended.";
    ALREADY_RATED = "already_rated", "이미 평가한 통화입니다.", "You rated this call already.";
    RATED = "rated", "평가가 등록되었습니다.", "Rating saved.";
    PAYMENT_TOKEN_USED = "payment_token_used", "이미 사용된 결제 토큰입니다.", "This payment token was used by another account.";
    SIGNAL_LIMITED = "signal_quota", "잠시 후 다시 시도해주세요.", "Too many signals. Slow down.";

    // Talk
    BROADCAST_DAILY_LIMIT = "broadcast_daily_limit", "오늘 올릴 수 있는 브로드캐스트를 모두 올렸습니다.", "You posted today's broadcasts already.";
    REPLY_LIMITED = "reply_quota", "잠시 후 다시 시도해주세요.", "Too many replies. Try again later.";
    MESSAGE_LIMITED = "message_quota", "잠시 후 다시 시도해주세요.", "Too many messages. Try again later.";
    REPORT_LIMITED = "report_quota", "잠시 후 다시 시도해주세요.", "Too many reports. Try again later.";
    REPLIED = "replied", "답장 완료", "Reply sent.";
    MESSAGE_SENT = "message_sent", "메시지 전송 완료", "Message sent.";
    FAVORITED = "favorited", "즐겨찾기 등록 완료", "Added to favorites.";
    UNFAVORITED = "unfavorited", "즐겨찾기 해제 완료", "Removed from favorites.";
    CONVERSATION_DELETED = "conversation_deleted", "대화방이 삭제되었습니다.", "Conversation deleted.";
    BLOCKED = "blocked", "차단 완료", "Blocked.";
    UNBLOCKED = "unblocked", "차단 해제 완료", "Unblocked.";
    REPORTED = "reported", "신고 완료", "Reported.";

    /// A unique violation no handler expected.
    ALREADY_EXISTS = "already_exists", "이미 존재하는 항목입니다.", "This exists already.";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_english_only_when_asked_first() {
        assert_eq!(Lang::from_accept_language(Some("en")), Lang::English);
        assert_eq!(
            Lang::from_accept_language(Some("en-US,en;q=0.9,ko;q=0.8")),
            Lang::English
        );
        assert_eq!(
            Lang::from_accept_language(Some("ko-KR,en;q=0.5")),
            Lang::Documents
        );
        assert_eq!(Lang::from_accept_language(None), Lang::Documents);
        assert_eq!(Lang::from_accept_language(Some("english")), Lang::Documents);
    }

    #[test]
    fn codes_are_snake_case_and_name_one_meaning_each() {
        for t in ALL {
            assert!(
                !t.code.is_empty() && t.code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{t:?}"
            );
            assert!(!t.english.is_empty(), "{t:?}");
        }
        // one code may name several texts only when they mean the same thing
        assert_eq!(BAD_USERNAME_LOGIN.code, BAD_PHONE_LOGIN.code);
    }
}
