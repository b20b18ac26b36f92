import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PetalCore
import PetalInference
import ServiceLifecycle
import Synchronization

/// What every handler shares: the models by name, the options and the metrics.
struct ServerState: Sendable {
    let models: [String: ServedModel]
    let configuration: ServeConfiguration
    let metrics: ServeMetrics

    func model(named name: String) throws(ServeError) -> ServedModel {
        guard let model = models[name] else { throw .unknownModel(name) }
        return model
    }

    /// The whole body, refused with 413 as soon as it is known to exceed --max-body-mb.
    func readBody(_ request: Request) async throws -> Data {
        let limit = configuration.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw ServeError.bodyTooLarge(limit: limit)
        }
        var data = Data()
        for try await buffer in request.body {
            guard data.count + buffer.readableBytes <= limit else { throw ServeError.bodyTooLarge(limit: limit) }
            data.append(contentsOf: buffer.readableBytesView)
        }
        return data
    }
}

/// `petal serve`: one or more trained models over HTTP (Petal's /v1 API, the Open Inference
/// Protocol's /v2, an upload page at /, Prometheus metrics at /metrics), with dynamic batching.
public struct PetalServer: Sendable {
    public let models: [ServedModel]
    public let configuration: ServeConfiguration
    public let metrics = ServeMetrics()
    private let running = RunningGroup()

    /// Loads each model (name and file or run folder) and starts its batching thread.
    public init(models: [(name: String, url: URL)], configuration: ServeConfiguration) throws(ServeError) {
        try configuration.validate()
        guard !models.isEmpty else { throw .badOption("give at least one model (a run folder or its .safetensors)") }
        var loaded: [ServedModel] = []
        for (name, url) in models {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
                throw .badOption("model name '\(name)' (for \(url.path)) may use only letters, digits, '-', '_' and '.'; choose one with --name")
            }
            if loaded.contains(where: { $0.name == name }) {
                throw .badOption("two models are named '\(name)'; name them apart with --name")
            }
            let classifier: ImageClassifier
            do { classifier = try ImageClassifier(contentsOf: url, testTimeAugmentation: configuration.testTimeAugmentation) } catch {
                for model in loaded { model.batcher.shutdown() }
                throw .badModel(path: url.path, reason: "\(error)")
            }
            loaded.append(ServedModel(name: name, classifier: classifier, configuration: configuration, metrics: metrics))
        }
        self.models = loaded
        self.configuration = configuration
    }

    var state: ServerState {
        ServerState(models: Dictionary(uniqueKeysWithValues: models.map { ($0.name, $0) }),
                    configuration: configuration, metrics: metrics)
    }

    /// Every route, in one place.
    public func buildRouter() -> Router<BasicRequestContext> {
        let state = state
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: AnswerMiddleware(metrics: metrics, quiet: configuration.quiet))
        let page = UploadPage(models: models)
        router.get("/", use: page.render)
        router.get("/metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: metrics.prometheusText())))
        }
        router.post("/v1/models/:name/predict", use: PredictAPI(server: state).predict)
        let v2 = InferenceProtocolAPI(server: state)
        router.get("/v2", use: v2.serverMetadata)
        router.get("/v2/health/live", use: v2.live)
        router.get("/v2/health/ready", use: v2.ready)
        router.get("/v2/models/:name", use: v2.modelMetadata)
        router.get("/v2/models/:name/ready", use: v2.modelReady)
        router.post("/v2/models/:name/infer", use: v2.infer)
        return router
    }

    /// Serves until SIGINT or SIGTERM (or `stop()`): then it stops accepting connections,
    /// finishes the requests in flight and their batches, and returns. `onRunning` gets the
    /// port listened on (the chosen one when the port is 0).
    public func run(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        // Hummingbird's own start-up line would repeat the banner: warnings and errors only.
        var logger = Logger(label: "petal-serve")
        logger.logLevel = .warning
        let app = Application(
            router: buildRouter(),
            server: .http1(configuration: .init(idleTimeout: .nanoseconds(configuration.idleTimeout.nanoseconds))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "petal"),
            onServerRunning: { [running] channel in
                running.listening.withLock { $0 = true }
                await onRunning(channel.localAddress?.port ?? 0)
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        running.group.withLock { $0 = group }
        defer {
            for model in models { model.batcher.shutdown() }
            for model in models { model.batcher.waitUntilStopped() }
        }
        do {
            try await group.run()
        } catch where !running.listening.withLock({ $0 }) {
            throw ServeError.badOption("cannot listen on \(configuration.host):\(configuration.port) (--host, --port): \(error)")
        }
    }

    /// Stops as SIGTERM does: no new connections; the requests in flight finish.
    public func stop() async {
        await running.group.withLock { $0 }?.triggerGracefulShutdown()
    }

    /// What start-up prints: the URL, and each model with its classes.
    public func banner(port: Int) -> String {
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        var lines = ["petal serve: listening on http://\(host):\(port)/"]
        for model in models {
            lines.append("  model '\(model.name)' (\(model.classifier.architecture), \(model.classifier.inputSize) px, from \(model.classifier.source.path))")
            lines.append("    \(model.classifier.classNames.count) classes: \(model.classifier.classNames.joined(separator: ", "))")
            lines.append("    POST http://\(host):\(port)/v1/models/\(model.name)/predict   POST http://\(host):\(port)/v2/models/\(model.name)/infer")
        }
        lines.append("  upload page: http://\(host):\(port)/   metrics: http://\(host):\(port)/metrics")
        return lines.joined(separator: "\n")
    }
}

/// The running server's service group, for `stop()`, and whether it got to listen.
final class RunningGroup: Sendable {
    let group = Mutex<ServiceGroup?>(nil)
    let listening = Mutex(false)
}

extension Duration {
    var nanoseconds: Int64 {
        let c = components
        return c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }
}

/// Turns every error into a JSON answer with its status, counts each request in the metrics
/// and logs it in one line (unless quiet).
struct AnswerMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServeMetrics
    let quiet: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        var matched = context.endpointPath
        do {
            response = try await next(request, context)
            matched = context.endpointPath
        } catch let error as ServeError {
            matched = context.endpointPath
            response = try error.response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            // The router's own errors: no route (404) for the path, or Hummingbird's checks.
            if error.status == .notFound { matched = nil }
            let message = error.status == .notFound ? ServeError.notFound("\(request.method) \(request.uri.path)").description
                                                    : (error as? HTTPError)?.body ?? error.status.reasonPhrase
            response = JSONResponse.make(ErrorBody(error: message), status: error.status)
        } catch {
            response = try ServeError.internal("\(error)").response(from: request, context: context)
        }
        let elapsed = ContinuousClock.now - start
        let route = matched ?? "unmatched"
        metrics.recordRequest(route: route, code: response.status.code, seconds: elapsed.milliseconds / 1000)
        if !quiet {
            let line = "\(request.method) \(request.uri) \(response.status.code) \(String(format: "%.1f", elapsed.milliseconds)) ms\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }
        return response
    }
}
