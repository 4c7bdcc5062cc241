use futures::future::BoxFuture;
use skiff_controller::{Command, CommandResponse, Controller, ControllerError, StateHandle};

/// What a broker needs from the controller: proposals (one per flush, one per admin request)
/// and a continuously updated view of the state. `skiff dev` embeds the controller; the
/// cluster will provide a remote implementation of the same two methods.
pub trait ControllerClient: Send + Sync + 'static {
    fn propose(&self, command: Command) -> BoxFuture<'_, Result<CommandResponse, ControllerError>>;
    fn state(&self) -> StateHandle;
}

impl ControllerClient for Controller {
    fn propose(&self, command: Command) -> BoxFuture<'_, Result<CommandResponse, ControllerError>> {
        Box::pin(Controller::propose(self, command))
    }

    fn state(&self) -> StateHandle {
        Controller::state(self)
    }
}
