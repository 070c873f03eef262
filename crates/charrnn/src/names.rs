//! The enums a user names on the command line and in config files (model,
//! optimizer, precision): one lowercase name per variant, written once, and
//! from it `name()`, `ALL`, `Display` and `FromStr` (whose error lists the
//! valid names), so clap and the config parse them the same way.

/// Implements `name()`, `ALL`, `Display` and `FromStr` for a fieldless enum
/// from its variants' names; `$what` names the setting in errors.
#[macro_export]
macro_rules! named_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in the order of the names' list.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::error::UnknownName;

            fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
                Self::ALL.iter().copied().find(|k| k.name() == s).ok_or_else(|| {
                    $crate::error::UnknownName {
                        what: $what,
                        given: s.to_string(),
                        valid: Self::ALL.iter().map(|k| k.name()).collect(),
                    }
                })
            }
        }
    };
}
