//! `steps!`: from the one list of step types in `steps/mod.rs`, generates everything that has
//! to name every step: the step modules, the schema type [`StepSpec`](super::StepSpec), the
//! names listed to users, and the enum the loader builds and the runner matches on.

/// `"name" => module::Type,` for each step type, in the order they are listed to users.
/// `Type` (in `steps/module.rs`) implements [`StepType`](super::StepType).
macro_rules! steps {
    ($($name:literal => $module:ident :: $ty:ident,)+) => {
        $(pub(crate) mod $module;)+

        /// The step type names, in the order they are listed to users.
        pub const STEP_TYPES: &[&str] = &[$($name),+];

        // The step schema (`berth schema`); the loader reads each step with its own type.
        /// One step of a process: a mapping with exactly one key, the step type.
        #[derive(Debug, Deserialize, Serialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        #[schemars(rename = "Step")]
        pub(crate) enum StepSpec {
            $(
                #[serde(rename = $name)]
                #[schemars(description = <$module::$ty as StepType>::DESCRIPTION)]
                $ty(<$module::$ty as StepType>::Spec),
            )+
        }

        /// A loaded step of each type.
        #[derive(Debug, Clone)]
        pub(crate) enum Action {
            $($ty($module::$ty),)+
        }

        impl Action {
            /// The step type's name.
            fn kind(&self) -> &'static str {
                match self {
                    $(Action::$ty(_) => $name,)+
                }
            }

            /// Loads a step of type `kind`; `None` when no step type has that name.
            fn load(
                kind: &str,
                load: &mut Loader<'_>,
                at: &str,
                value: &Value,
            ) -> Option<Option<Action>> {
                match kind {
                    $($name => Some(
                        <$module::$ty as StepType>::load(load, at, value).map(Action::$ty),
                    ),)+
                    _ => None,
                }
            }

            /// Runs the step.
            pub(crate) async fn run<'s>(
                &'s self,
                run: &mut Run<'_>,
            ) -> Result<Flow<'s>, String> {
                match self {
                    $(Action::$ty(step) => step.run(run).await,)+
                }
            }

            fn nested(&self) -> Vec<&[Step]> {
                match self {
                    $(Action::$ty(step) => step.nested(),)+
                }
            }
        }
    };
}
