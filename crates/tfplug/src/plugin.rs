//! go-plugin's own services: the controller (Terraform's clean `Shutdown`),
//! stdio and the broker (opened by every go-plugin client; this provider
//! sends nothing over them, but they must answer).

use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status, Streaming};

#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("plugin");
}

use proto::grpc_broker_server::{GrpcBroker, GrpcBrokerServer};
use proto::grpc_controller_server::{GrpcController, GrpcControllerServer};
use proto::grpc_stdio_server::{GrpcStdio, GrpcStdioServer};

type Stream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send + 'static>>;

pub struct Controller {
    shutdown: Arc<Notify>,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _r: Request<proto::Empty>) -> Result<Response<proto::Empty>, Status> {
        // notify_one stores a permit, so the server stops even if it is not
        // waiting yet; it finishes in-flight calls (this one included) first.
        self.shutdown.notify_one();
        Ok(Response::new(proto::Empty {}))
    }
}

pub fn controller(shutdown: Arc<Notify>) -> GrpcControllerServer<Controller> {
    GrpcControllerServer::new(Controller { shutdown })
}

/// A stream that stays open until the provider stops.
fn open_until<T: Send + 'static>(stop: CancellationToken) -> Stream<T> {
    Box::pin(futures::stream::once(async move {
        stop.cancelled().await;
        Err(Status::cancelled("provider stopping"))
    }))
}

pub struct Stdio {
    stop: CancellationToken,
}

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    type StreamStdioStream = Stream<proto::StdioData>;

    async fn stream_stdio(
        &self,
        _r: Request<proto::Empty>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(open_until(self.stop.clone())))
    }
}

pub fn stdio(stop: CancellationToken) -> GrpcStdioServer<Stdio> {
    GrpcStdioServer::new(Stdio { stop })
}

pub struct Broker {
    stop: CancellationToken,
}

#[tonic::async_trait]
impl GrpcBroker for Broker {
    type StartStreamStream = Stream<proto::ConnInfo>;

    async fn start_stream(
        &self,
        _r: Request<Streaming<proto::ConnInfo>>,
    ) -> Result<Response<Self::StartStreamStream>, Status> {
        Ok(Response::new(open_until(self.stop.clone())))
    }
}

pub fn broker(stop: CancellationToken) -> GrpcBrokerServer<Broker> {
    GrpcBrokerServer::new(Broker { stop })
}
