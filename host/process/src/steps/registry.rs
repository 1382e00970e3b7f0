//! `steps!`: from the one list of step types in `steps/mod.rs`, generates everything that has
//! to name every step: the step modules, the schema type [`StepSpec`](super::StepSpec), the
//! names listed to users, the enum the loader builds, and the loop that runs the steps.

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

            fn nested(&self) -> Vec<&[Step]> {
                match self {
                    $(Action::$ty(step) => step.nested(),)+
                }
            }
        }

        /// Runs `steps`, and the steps they enter, on the document in `run` until one ends
        /// the run or fails (`Err` names it). Each step is dispatched by a `match` written
        /// out in this loop: an `async fn` of `Action` doing it would add a state machine to
        /// every step run (measured at 16 to 56 instructions a document).
        pub(crate) async fn run_steps<'p: 'r, 'r>(
            steps: &'p [Step],
            run: &mut Run<'r>,
        ) -> Result<Option<Returned>, (&'p Step, String)> {
            // Lists of steps being run, innermost last; a step such as `route` enters a list.
            // Kept as iterators so that a flat process never allocates here.
            let mut outer: Vec<std::slice::Iter<'p, Step>> = Vec::new();
            let mut current = steps.iter();
            loop {
                let Some(step) = current.next() else {
                    match outer.pop() {
                        Some(it) => {
                            current = it;
                            continue;
                        }
                        None => return Ok(None),
                    }
                };
                run.step = &step.label;
                let flow = match &step.action {
                    $(Action::$ty(action) => action.run(run).await,)+
                };
                match flow {
                    Ok(Flow::Next) => {}
                    Ok(Flow::Enter(list)) => {
                        if !list.is_empty() {
                            outer.push(std::mem::replace(&mut current, list.iter()));
                        }
                    }
                    Ok(Flow::End(returned)) => return Ok(returned),
                    Err(reason) => return Err((step, reason)),
                }
            }
        }
    };
}
