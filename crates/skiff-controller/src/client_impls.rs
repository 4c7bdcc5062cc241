//! The two ways a broker reaches the controller, behind the model's client trait.

use futures::future::BoxFuture;
use skiff_meta::{Command, CommandResponse, ControllerClient, ProposeError, StateHandle};

use crate::controller::Controller;
use crate::remote::RemoteController;

/// `skiff dev`: the controller runs in the broker's process.
impl ControllerClient for Controller {
    fn submit(&self, command: Command) -> BoxFuture<'_, Result<CommandResponse, ProposeError>> {
        Box::pin(Controller::submit(self, command))
    }

    fn state(&self) -> StateHandle {
        Controller::state(self)
    }
}

/// `skiff broker`: proposals over HTTP, state from the local replica.
impl ControllerClient for RemoteController {
    fn submit(&self, command: Command) -> BoxFuture<'_, Result<CommandResponse, ProposeError>> {
        Box::pin(RemoteController::submit(self, command))
    }

    fn state(&self) -> StateHandle {
        RemoteController::state(self)
    }
}
