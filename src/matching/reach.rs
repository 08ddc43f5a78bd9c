//! Where a user may be found and whom they may find beyond the documents'
//! filters: the age band and the languages (as scopes of the pool's buckets),
//! interests and relaxation (`lua/matching/lib.lua`, docs/matching.md).

/// What a ticket adds to the documents' filters: age band, languages,
/// interests and relaxation, as the pairing script reads them.
#[derive(Clone, Debug)]
pub struct Reach {
    /// The scopes the user is filed under and those searched, comma-separated
    /// (`lua/matching/lib.lua`).
    pub scopes: String,
    pub searched: String,
    /// Interest tags, as a JSON array.
    pub interests: String,
    /// How the filters relax while waiting (`lua/matching/lib.lua`); empty: they do not.
    pub relax: String,
}

/// The age of majority: users under it and over it never meet (SPEC.md).
const ADULT_AGE: i32 = 18;

impl Reach {
    /// Scopes: the user's age band, then one per language they speak plus '+'
    /// (they named some), or '*' (they named none). Two who both named languages
    /// meet only in a shared one; '*' users meet everyone of their band.
    pub fn new(age: i32, languages: &[String], interests: String, relax: String) -> Self {
        let band = if age < ADULT_AGE { 'u' } else { 'a' };
        let (scopes, searched) = if languages.is_empty() {
            (format!("{band}*"), format!("{band}*,{band}+"))
        } else {
            let spoken: Vec<String> = languages.iter().map(|l| format!("{band}:{l}")).collect();
            let spoken = spoken.join(",");
            (format!("{spoken},{band}+"), format!("{spoken},{band}*"))
        };
        Reach {
            scopes,
            searched,
            interests,
            relax,
        }
    }

    /// No languages, no interests, no relaxation.
    pub fn plain(age: i32) -> Self {
        Reach::new(age, &[], "[]".into(), String::new())
    }
}
