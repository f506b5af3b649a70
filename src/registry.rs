//! The registry macro: each side (`inputs/mod.rs`, `outputs/mod.rs`) lists its plugins once,
//! one line each, and gets the config enum, `type` parsing with exact key paths, and build
//! dispatch. Adding a plugin is one folder and one line.

/// Declares a plugin registry enum. See `inputs/mod.rs` for its use.
macro_rules! registry {
    (
        $(#[$meta:meta])*
        pub enum $Enum:ident: $Trait:path => $Built:ident, $Cx:ty {
            $($kind:literal => $Variant:ident($Config:ty),)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq)]
        pub enum $Enum {
            $($Variant($Config),)+
        }

        impl $Enum {
            /// Every `type` this registry knows.
            pub const TYPES: &'static [&'static str] = &[$($kind),+];

            /// The `type` of this plugin.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$Variant(_) => $kind,)+
                }
            }

            /// Deserializes a plugin table (without its `type` key); `None` for an unknown
            /// type.
            pub fn parse(
                kind: &str,
                table: toml::Table,
            ) -> Result<Option<Self>, crate::config::KeyError> {
                Ok(Some(match kind {
                    $($kind => Self::$Variant(crate::config::parse_table(table)?),)+
                    _ => return Ok(None),
                }))
            }

            /// Builds the plugin without I/O.
            pub fn build(&self, cx: &$Cx) -> Result<$Built, String> {
                use $Trait as _;
                match self {
                    $(Self::$Variant(config) => config.build(cx).map($Built::new),)+
                }
            }
        }
    };
}

pub(crate) use registry;
