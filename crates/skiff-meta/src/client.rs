//! How a broker talks to the controller: proposals and a continuously updated view of the
//! state. `skiff dev` implements [`ControllerClient`] with the embedded controller, `skiff
//! broker` with a remote client whose state is a replica kept current by a watch stream.

use std::future::Future;

use futures::future::BoxFuture;

use crate::command::{Command, CommandResponse};
use crate::error::ProposeError;
use crate::proposal::{Proposal, read_answer};
use crate::state_handle::StateHandle;

/// What a broker needs from the controller. Implementations deal in the wire form; callers use
/// [`Propose::propose`], which gives each proposal its own answer type.
pub trait ControllerClient: Send + Sync + 'static {
    /// Replicates and applies `command`, returning what applying it produced.
    fn submit(&self, command: Command) -> BoxFuture<'_, Result<CommandResponse, ProposeError>>;

    /// The applied state: read it under its lock, wait on its applied index.
    fn state(&self) -> StateHandle;
}

/// Typed proposals for every [`ControllerClient`], trait objects included.
pub trait Propose {
    /// Proposes one command and returns its typed answer (one proposal, one Raft entry).
    fn propose<P>(
        &self,
        proposal: P,
    ) -> impl Future<Output = Result<P::Answer, ProposeError>> + Send + '_
    where
        P: Proposal + Send + 'static,
        P::Answer: Send;
}

impl<C: ControllerClient + ?Sized> Propose for C {
    fn propose<P>(
        &self,
        proposal: P,
    ) -> impl Future<Output = Result<P::Answer, ProposeError>> + Send + '_
    where
        P: Proposal + Send + 'static,
        P::Answer: Send,
    {
        let shape = proposal.shape();
        let command: Command = proposal.into();
        let kind = command.kind();
        let submitted = self.submit(command);
        async move { read_answer::<P>(kind, &shape, submitted.await?) }
    }
}
