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
    /// No route has this path (a 404 in the contract's shape, told apart by its code).
    NO_ROUTE = "route_not_found", "Resource not found", "Resource not found";
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
    SMS_COOLDOWN = "sms_cooldown", "잠시 후 다시 시도해주세요.", "A code was just sent. Try again later.";
    SMS_IP_LIMITED = "sms_ip_rate_limited", "잠시 후 다시 시도해주세요.", "Too many codes requested from this address. Try again later.";
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
    PUSH_TOKEN_SAVED = "push_token_saved", "푸시 토큰이 등록되었습니다.", "Push token registered.";
    PUSH_TOKEN_REMOVED = "push_token_removed", "푸시 토큰이 해제되었습니다.", "Push token removed.";

    // safety: suspensions, appeals, admins, account deletion
    SUSPENDED = "account_suspended", "Account suspended", "Account suspended";
    APPEAL_OPEN = "appeal_open", "이미 심사 중인 이의 신청이 있습니다.", "An appeal of yours is under review already.";
    NOT_SUSPENDED = "not_suspended", "정지된 계정이 아닙니다.", "This account is not suspended.";
    APPEAL_FILED = "appeal_filed", "이의 신청이 접수되었습니다.", "Appeal filed.";
    USER_SUSPENDED = "user_suspended", "계정이 정지되었습니다.", "User suspended.";
    USER_UNSUSPENDED = "user_unsuspended", "계정 정지가 해제되었습니다.", "Suspension lifted.";
    REPORT_DISMISSED = "report_dismissed", "신고가 기각되었습니다.", "Report dismissed.";
    APPEAL_RESOLVED = "appeal_resolved", "이의 신청이 처리되었습니다.", "Appeal resolved.";
    WRONG_PASSWORD = "wrong_password", "비밀번호가 올바르지 않습니다.", "Wrong password.";
    ACCOUNT_DELETED = "account_deleted", "계정이 삭제되었습니다.", "Account deleted.";

    /// A unique violation no handler expected.
    ALREADY_EXISTS = "already_exists", "이미 존재하는 항목입니다.", "This exists already.";
}

/// One error code of the API: the status it comes with, its message(s) and
/// when it is sent. Every error body carries its `code` (`ApiError::body`).
#[derive(Clone, Copy, Debug)]
pub struct ErrorCode {
    pub status: u16,
    /// The messages sent under this code (more than one only where the
    /// documents word one meaning twice, as the two login forms do).
    pub texts: &'static [Text],
    pub when: &'static str,
    /// The `operationId`s that can answer it; empty: any operation.
    pub operations: &'static [&'static str],
}

impl ErrorCode {
    pub fn code(&self) -> &'static str {
        self.texts[0].code
    }
}

macro_rules! error_codes {
    ($($status:literal [$($text:ident),+] $([$($op:literal),+])? $when:literal;)*) => {
        /// Every error code, in the order of `docs/errors.md`.
        pub const ERRORS: &[ErrorCode] = &[$(ErrorCode {
            status: $status,
            texts: &[$($text),+],
            when: $when,
            operations: &[$($($op),+)?],
        }),*];
    };
}

error_codes! {
    400 [CODE_MISMATCH] ["verify_code"] "`POST /api/auth/verify_code`: the code is wrong; `verification_status.remaining_attempts` tells how many tries are left.";
    400 [CODE_EXPIRED] ["verify_code"] "`POST /api/auth/verify_code`: no code is pending for the phone (expired, used, or never sent).";
    401 [INVALID_TOKEN] "The access token is missing, malformed, expired or revoked (logout, refresh reuse); on `/api/auth/refresh/`, the refresh token is.";
    401 [BAD_USERNAME_LOGIN, BAD_PHONE_LOGIN] ["login"] "Login with a wrong username, phone number or password (one message for all, by login form).";
    402 [NOT_ENOUGH_GEMS] ["random_match"] "A filtered match (`preferred_gender` not `all`) without enough gems; the body has `required` and `balance`.";
    403 [SUSPENDED] ["random_match", "decide_match", "match_status", "start_call", "create_broadcast", "reply_to_broadcast", "send_message"] "The caller's account is suspended (3 distinct reporters in 24 h, or an admin); the body has `until` (RFC 3339, or null: until lifted). `POST /api/appeals` asks for a review.";
    403 [WRONG_PASSWORD] ["delete_account"] "`DELETE /api/user/` with a wrong password, or a phone account without a code verified in the last 10 minutes.";
    403 [FORBIDDEN] "The caller may not do this: not a participant of the match, call or conversation, or a block stands between the users.";
    403 [PHONE_NOT_VERIFIED] ["register"] "`POST /api/auth/register` for a phone not verified in the last 30 minutes.";
    404 [NOT_FOUND] "What the path or body names does not exist (or is hidden from the caller).";
    404 [NO_ROUTE] ["demo_file"] "No endpoint has this path: check the URL.";
    405 [METHOD_NOT_ALLOWED] "The path exists, but not with this method.";
    409 [USERNAME_TAKEN] ["signup", "update_profile"] "Signup with a username someone has.";
    409 [PHONE_TAKEN] ["register"] "Register with a phone that has an account already; the body has `user_exists: true`.";
    409 [NOT_MATCHED] ["start_call"] "`POST /api/call/start/` for a match both users have not accepted.";
    409 [ALREADY_RATED] ["rate_call"] "`POST /api/history/rate/` for a call the caller rated already.";
    409 [PAYMENT_TOKEN_USED] ["charge_gems"] "`POST /api/gem/charge/` with a payment token another account used.";
    409 [APPEAL_OPEN] ["file_appeal"] "`POST /api/appeals` while an appeal of the caller is open.";
    409 [NOT_SUSPENDED] ["file_appeal"] "`POST /api/appeals` by an account that is not suspended.";
    409 [ALREADY_EXISTS] "Any other duplicate.";
    413 [PAYLOAD_TOO_LARGE] "A body or upload over its size limit (images 5 MB, voice 10 MB, JSON 64 KiB).";
    422 [VALIDATION] "The request is malformed or a value is not allowed; `details` names the field and what is wrong.";
    429 [LOGIN_LIMITED] ["login"] "Too many failed logins for the account or from the address; wait `wait_seconds`.";
    429 [SIGNUP_LIMITED] ["signup"] "Too many signups from the address (`SIGNUP_IP_LIMIT` an hour); wait `wait_seconds`.";
    429 [REGISTER_LIMITED] ["register"] "Too many registers from the address; wait `wait_seconds`.";
    429 [SMS_COOLDOWN] ["request_code", "resend_code"] "A code requested again within the resend cooldown (`SMS_RESEND_COOLDOWN_SEC`); wait `wait_seconds`.";
    429 [SMS_IP_LIMITED] ["request_code", "resend_code"] "Too many codes requested from the address (`SMS_IP_LIMIT` an hour); wait `wait_seconds`.";
    429 [SMS_DAILY_LIMIT] ["request_code", "resend_code"] "The phone got `SMS_DAILY_LIMIT` codes today; wait `wait_seconds`.";
    429 [CODE_ATTEMPTS_EXCEEDED] ["verify_code"] "`POST /api/auth/verify_code` after the 5th wrong try: request a new code (`can_resend: true`).";
    429 [BROADCAST_DAILY_LIMIT] ["create_broadcast"] "The user posted today's broadcasts already; wait `wait_seconds`.";
    429 [REPLY_LIMITED] ["reply_to_broadcast"] "Too many broadcast replies this hour; wait `wait_seconds`.";
    429 [MESSAGE_LIMITED] ["send_message"] "Too many messages this hour; wait `wait_seconds`.";
    429 [REPORT_LIMITED] ["report"] "Too many reports today; wait `wait_seconds`.";
    429 [SIGNAL_LIMITED] ["websocket"] "WebSocket only (an `error` event): too many call signals this minute; wait `wait_seconds`.";
    500 [SERVER_ERROR] "A fault of the server; the cause is logged, never sent.";
    503 [UNAVAILABLE] "Redis, Postgres or a provider (SMS, payments) does not answer; try again after `Retry-After` seconds.";
    503 [BUSY] "Too many CPU-heavy jobs (password hashing, image decoding) at once; try again after `Retry-After` seconds.";
}

/// The catalogue as the Markdown table of `docs/errors.md` (kept equal by a test).
pub fn errors_markdown() -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::from(
        "| code | HTTP | message (documents) | message (`Accept-Language: en`) | when |\n\
         |---|---|---|---|---|\n",
    );
    for e in ERRORS {
        let join = |f: fn(&Text) -> &'static str| {
            e.texts
                .iter()
                .map(|t| cell(f(t)))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            e.code(),
            e.status,
            join(|t| t.documents),
            join(|t| t.english),
            cell(e.when),
        ));
    }
    out
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

    #[test]
    fn error_codes_are_unique_and_each_names_its_texts() {
        let mut seen = std::collections::HashSet::new();
        for e in ERRORS {
            assert!(seen.insert(e.code()), "{} listed twice", e.code());
            assert!((400..600).contains(&e.status), "{e:?}");
            for t in e.texts {
                assert_eq!(t.code, e.code(), "{e:?}");
            }
            // every text of the catalogue under this code is listed with it
            for t in ALL.iter().filter(|t| t.code == e.code()) {
                assert!(e.texts.contains(t), "{t:?} shares a code but is not listed");
            }
        }
    }

    /// `docs/errors.md` holds the catalogue's table as `errors_markdown` renders
    /// it. `VOXMATCH_WRITE_DOCS=1 cargo test --lib errors_doc` rewrites it.
    #[test]
    fn errors_doc_lists_every_code() {
        const DOC: &str = include_str!("../docs/errors.md");
        const BEGIN: &str = "<!-- catalogue: generated from src/messages.rs -->\n";
        const END: &str = "<!-- end of catalogue -->";
        let table = errors_markdown();
        if std::env::var_os("VOXMATCH_WRITE_DOCS").is_some() {
            let (head, rest) = DOC.split_once(BEGIN).expect("begin marker");
            let (_, tail) = rest.split_once(END).expect("end marker");
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/errors.md");
            std::fs::write(path, format!("{head}{BEGIN}{table}{END}{tail}")).unwrap();
            return;
        }
        assert!(
            DOC.contains(&format!("{BEGIN}{table}{END}")),
            "docs/errors.md is not the catalogue of src/messages.rs; rewrite it with \
             VOXMATCH_WRITE_DOCS=1 cargo test --lib errors_doc"
        );
        for e in ERRORS {
            assert!(
                DOC.contains(&format!("`{}`", e.code())),
                "{} missing",
                e.code()
            );
        }
    }
}
