import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fetches the pretrained weights `keras.applications` uses into ~/.keras/models (as Keras
/// does), reusing a file already there. Files arrive under a temporary name, are checked
/// (they must open as Keras HDF5 with the expected layers; Keras publishes no hashes for
/// MobileNetV2) and only then renamed into place.
///
/// The base URL can be replaced with the environment variable PETAL_KERAS_WEIGHTS_URL
/// (a mirror, or a local server in tests).
public struct KerasApplicationsDownloader {
    public static let mobileNetV2BaseURL = URL(string: "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/")!
    /// The widths and input sizes Keras publishes ImageNet weights for.
    public static let mobileNetV2Alphas: [Double] = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4]
    public static let mobileNetV2Sizes = [96, 128, 160, 192, 224]

    public var baseURL: URL
    public var directory: URL
    public var showProgress: Bool
    /// Seconds without progress before giving up (connection refusals fail at once).
    public var timeout: TimeInterval

    public init(baseURL: URL? = nil, directory: URL? = nil, showProgress: Bool = true, timeout: TimeInterval = 15,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let baseURL {
            self.baseURL = baseURL
        } else if let custom = environment["PETAL_KERAS_WEIGHTS_URL"], let url = URL(string: custom.hasSuffix("/") ? custom : custom + "/") {
            self.baseURL = url
        } else {
            self.baseURL = Self.mobileNetV2BaseURL
        }
        self.directory = directory ?? PetalPaths.kerasModelsDirectory(environment: environment)
        self.showProgress = showProgress
        self.timeout = timeout
    }

    /// Keras's file name: `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{alpha}_{rows}[_no_top].h5`,
    /// alpha written as Python's `str(float(alpha))` ("1.0", "0.35", "0.5").
    public static func mobileNetV2FileName(alpha: Double, size: Int, includeTop: Bool = false) throws -> String {
        guard mobileNetV2Alphas.contains(alpha) else {
            throw WeightError.unreadable(path: "MobileNetV2 imagenet weights",
                                         reason: "alpha \(alpha) has no ImageNet weights; use one of \(mobileNetV2Alphas.map { "\($0)" }.joined(separator: ", "))")
        }
        guard mobileNetV2Sizes.contains(size) else {
            throw WeightError.unreadable(path: "MobileNetV2 imagenet weights",
                                         reason: "input size \(size) has no ImageNet weights; use one of \(mobileNetV2Sizes.map(String.init).joined(separator: ", "))")
        }
        return "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_\(alpha)_\(size)\(includeTop ? "" : "_no_top").h5"
    }

    /// The local MobileNetV2 ImageNet weights file, downloaded first if it is not there yet.
    public func mobileNetV2(alpha: Double = 1.0, size: Int = 224, includeTop: Bool = false) throws -> URL {
        let name = try Self.mobileNetV2FileName(alpha: alpha, size: size, includeTop: includeTop)
        return try fetch(name, expectedLayers: ["Conv1", "bn_Conv1", "block_1_depthwise"])
    }

    /// `directory/name`, downloaded from `baseURL/name` if absent, checked to be Keras HDF5
    /// listing `expectedLayers`.
    public func fetch(_ name: String, expectedLayers: [String]) throws -> URL {
        let destination = directory.appendingPathComponent(name)
        if FileManager.default.fileExists(atPath: destination.path) { return destination }
        let source = baseURL.appendingPathComponent(name)
        func failure(_ reason: String) -> WeightError {
            .downloadFailed(url: source.absoluteString, destination: destination.path, reason: reason)
        }
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw WeightError.writeFailed(path: directory.path, reason: error.localizedDescription)
        }
        let temp = directory.appendingPathComponent(".\(name).\(UUID().uuidString).download")
        defer { try? FileManager.default.removeItem(at: temp) }
        try download(source, to: temp, label: name, failure: failure)
        do {
            let reader = try KerasHDF5Reader(temp)
            let missing = expectedLayers.filter { !reader.layerNames.contains($0) }
            if !missing.isEmpty { throw failure("the file lacks the layers \(missing.joined(separator: ", "))") }
        } catch let error as WeightError where error.isDownloadFailure {
            throw error
        } catch {
            throw failure("the downloaded file is not a Keras weights file (\(error))")
        }
        guard rename(temp.path, destination.path) == 0 else {
            throw WeightError.writeFailed(path: destination.path, reason: String(cString: strerror(errno)))
        }
        return destination
    }

    private func download(_ source: URL, to temp: URL, label: String, failure: (String) -> WeightError) throws {
        guard FileManager.default.createFile(atPath: temp.path, contents: nil), let handle = FileHandle(forWritingAtPath: temp.path) else {
            throw WeightError.writeFailed(path: temp.path, reason: "cannot create file")
        }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = 3600
        let receiver = DownloadReceiver(handle: handle, label: label, showProgress: showProgress)
        let session = URLSession(configuration: configuration, delegate: receiver, delegateQueue: nil)
        var request = URLRequest(url: source)
        request.timeoutInterval = timeout
        session.dataTask(with: request).resume()
        receiver.done.wait()
        session.finishTasksAndInvalidate()
        try? handle.close()
        if let error = receiver.error { throw failure(Self.describe(error)) }
        if let status = receiver.status, status != 200 { throw failure("the server answered HTTP \(status)") }
        if let expected = receiver.expectedLength, expected > 0, receiver.received != expected {
            throw failure("the connection ended after \(receiver.received) of \(expected) bytes")
        }
    }

    static func describe(_ error: Error) -> String {
        guard let urlError = error as? URLError else { return error.localizedDescription }
        switch urlError.code {
        case .cannotConnectToHost: return "cannot connect to the server (offline or blocked?)"
        case .cannotFindHost, .dnsLookupFailed: return "cannot resolve the host name (offline?)"
        case .notConnectedToInternet: return "no network connection"
        case .timedOut: return "the connection timed out (offline?)"
        case .networkConnectionLost: return "the connection was lost"
        default: return urlError.localizedDescription
        }
    }
}

extension WeightError {
    var isDownloadFailure: Bool { if case .downloadFailed = self { return true }; return false }
}

/// Writes the body to a file as it arrives and draws a progress bar on stderr.
// unchecked: URLSession calls the delegate on its serial queue; the caller reads after `done`.
private final class DownloadReceiver: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let handle: FileHandle
    let label: String
    let showProgress: Bool
    let done = DispatchSemaphore(value: 0)
    var error: Error?
    var status: Int?
    var expectedLength: Int64?
    var received: Int64 = 0
    private var lastDrawn = Date.distantPast

    init(handle: FileHandle, label: String, showProgress: Bool) {
        self.handle = handle
        self.label = label
        self.showProgress = showProgress
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        status = (response as? HTTPURLResponse)?.statusCode
        expectedLength = response.expectedContentLength
        completionHandler(status == nil || status == 200 ? .allow : .cancel)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        handle.write(data)
        received += Int64(data.count)
        if showProgress, Date().timeIntervalSince(lastDrawn) > 0.2 { draw(); lastDrawn = Date() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if let error, (error as? URLError)?.code != .cancelled || status == 200 { self.error = error }
        if showProgress, self.error == nil, status == 200 { draw(); FileHandle.standardError.write(Data("\n".utf8)) }
        done.signal()
    }

    private func draw() {
        let mb = Double(received) / 1_048_576
        var line = "\rDownloading \(label) "
        if let total = expectedLength, total > 0 {
            let fraction = min(1, Double(received) / Double(total))
            let filled = Int(fraction * 30)
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled) + "]"
            line += String(format: " %3.0f%% %.1f/%.1f MB", fraction * 100, mb, Double(total) / 1_048_576)
        } else {
            line += String(format: "%.1f MB", mb)
        }
        FileHandle.standardError.write(Data(line.utf8))
    }
}
