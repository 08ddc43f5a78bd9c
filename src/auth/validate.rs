//! Field rules of SPEC.md (Accounts and tokens). Each returns the 422 detail
//! for its field, so that handlers can report every wrong field at once.

use crate::users::model::{Gender, MAX_AGE};

pub fn username(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if !(3..=30).contains(&len) {
        return Err("username: must be 3 to 30 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err("username: only letters, digits, '_' and '.' are allowed".into());
    }
    Ok(())
}

pub fn password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    if !(8..=128).contains(&len) {
        return Err("password: must be 8 to 128 characters".into());
    }
    Ok(())
}

pub fn nickname(nickname: &str) -> Result<(), String> {
    let len = nickname.trim().chars().count();
    if !(1..=20).contains(&len) {
        return Err("nickname: must be 1 to 20 characters".into());
    }
    Ok(())
}

pub fn age(age: i32, min_age: i32) -> Result<(), String> {
    if age < min_age || age > MAX_AGE {
        return Err(format!(
            "age: must be an integer from {min_age} to {MAX_AGE}"
        ));
    }
    Ok(())
}

/// Parses a form field that must be an integer age.
pub fn age_text(raw: &str, min_age: i32) -> Result<i32, String> {
    let age: i32 = raw
        .trim()
        .parse()
        .map_err(|_| format!("age: must be an integer from {min_age} to {MAX_AGE}"))?;
    self::age(age, min_age)?;
    Ok(age)
}

pub fn gender_text(raw: &str) -> Result<Gender, String> {
    Gender::parse(raw.trim()).ok_or_else(|| "gender: must be male or female".into())
}

/// Joins the problems found into one `details` string, or passes.
pub fn all(problems: Vec<String>) -> crate::error::ApiResult<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(crate::error::ApiError::Validation(problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_edges() {
        assert!(username("abc").is_ok());
        assert!(username("ab").is_err());
        assert!(username(&"a".repeat(30)).is_ok());
        assert!(username(&"a".repeat(31)).is_err());
        assert!(username("a.b_c9").is_ok());
        assert!(username("a-b").is_err());
        assert!(username("한글이름").is_err());
    }

    #[test]
    fn password_edges_count_characters() {
        assert!(password("1234567").is_err());
        assert!(password("12345678").is_ok());
        assert!(password(&"가".repeat(128)).is_ok());
        assert!(password(&"a".repeat(129)).is_err());
    }

    #[test]
    fn age_and_nickname_edges() {
        assert!(age(17, 18).is_err());
        assert!(age(18, 18).is_ok());
        assert!(age(100, 18).is_ok());
        assert!(age(101, 18).is_err());
        assert!(age_text("2x", 18).is_err());
        assert!(nickname("").is_err());
        assert!(nickname("   ").is_err());
        assert!(nickname(&"닉".repeat(20)).is_ok());
        assert!(nickname(&"닉".repeat(21)).is_err());
    }
}
