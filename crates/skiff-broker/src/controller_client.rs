use futures::future::BoxFuture;
use skiff_controller::{
    Command, CommandResponse, Controller, ControllerError, RemoteController, StateHandle,
};

/// What a broker needs from the controller: proposals (one per flush, one per admin request)
/// and a continuously updated view of the state. `skiff dev` embeds the controller;
/// `skiff broker` uses [`RemoteController`], whose state is a local replica kept current by
/// the controllers' watch stream.
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

impl ControllerClient for RemoteController {
    fn propose(&self, command: Command) -> BoxFuture<'_, Result<CommandResponse, ControllerError>> {
        Box::pin(RemoteController::propose(self, command))
    }

    fn state(&self) -> StateHandle {
        RemoteController::state(self)
    }
}
