import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One pretrained weights file to fetch on request: where from, where it goes, and how the
/// downloaded bytes are checked before they are renamed into place.
public struct WeightsDownload: Sendable, Equatable {
    public enum Check: Sendable, Equatable {
        /// torch.hub's `check_hash`: the file's sha256 (hex) must begin with the hex digits
        /// between the '-' and the '.' of its name (`resnet50-11ad3fa6.pth`). torchvision
        /// publishes no more of the hash than that prefix.
        case sha256PrefixInName
        /// Keras HDF5 listing these layers (Keras publishes no hashes for its applications).
        case kerasLayers([String])
    }

    public var url: URL
    public var directory: URL
    public var check: Check

    public init(url: URL, directory: URL, check: Check) {
        self.url = url; self.directory = directory; self.check = check
    }

    public var fileName: String { url.lastPathComponent }
    public var destination: URL { directory.appendingPathComponent(fileName) }

    /// torch.hub's HASH_REGEX, `-([a-f0-9]*)\.`, on `name`: the expected sha256 prefix, or nil.
    public static func hashPrefix(inName name: String) -> String? {
        let hex = Set("0123456789abcdef")
        var rest = Substring(name)
        while let dash = rest.firstIndex(of: "-") {
            let digits = rest[rest.index(after: dash)...].prefix { hex.contains($0) }
            if digits.endIndex < rest.endIndex, rest[digits.endIndex] == "." { return String(digits) }
            rest = rest[rest.index(after: dash)...]
        }
        return nil
    }
}

/// torchvision's ImageNet weights, as torch.hub fetches them, into Petal's weights folder.
public enum TorchvisionWeights {
    public static let baseURL = URL(string: "https://download.pytorch.org/models/")!

    /// `name` under torchvision's base URL (or PETAL_TORCHVISION_WEIGHTS_URL: a mirror, or a
    /// local server in tests), checked as torch.hub checks it.
    public static func download(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        -> WeightsDownload {
        let base = environment["PETAL_TORCHVISION_WEIGHTS_URL"].flatMap { URL(string: $0.hasSuffix("/") ? $0 : $0 + "/") }
        return WeightsDownload(url: (base ?? baseURL).appendingPathComponent(name),
                               directory: PetalPaths.weightsDirectory(environment: environment),
                               check: .sha256PrefixInName)
    }
}

/// Fetches a weights file once: a file already at the destination is reused; otherwise the
/// body streams to a temporary name in the destination folder, is checked, and only then is
/// renamed into place, so a failed or wrong download never leaves a file Petal would load.
public struct WeightsDownloader {
    public var showProgress: Bool
    /// Seconds without progress before giving up (connection refusals fail at once).
    public var timeout: TimeInterval

    public init(showProgress: Bool = true, timeout: TimeInterval = 15) {
        self.showProgress = showProgress
        self.timeout = timeout
    }

    public func fetch(_ download: WeightsDownload) throws -> URL {
        let destination = download.destination
        if FileManager.default.fileExists(atPath: destination.path) { return destination }
        let source = download.url
        func failure(_ reason: String) -> WeightError {
            .downloadFailed(url: source.absoluteString, destination: destination.path, reason: reason)
        }
        do { try FileManager.default.createDirectory(at: download.directory, withIntermediateDirectories: true) } catch {
            throw WeightError.writeFailed(path: download.directory.path, reason: error.localizedDescription)
        }
        let temp = download.directory.appendingPathComponent(".\(download.fileName).\(UUID().uuidString).download")
        defer { try? FileManager.default.removeItem(at: temp) }
        try get(source, to: temp, label: download.fileName, failure: failure)
        switch download.check {
        case .sha256PrefixInName:
            guard let prefix = WeightsDownload.hashPrefix(inName: download.fileName), !prefix.isEmpty else {
                throw failure("its name carries no sha256 prefix to check the file against")
            }
            let digest = try SHA256.hex(contentsOf: temp)
            guard digest.hasPrefix(prefix) else {
                throw failure("the file's sha256 is \(digest), which does not begin with \(prefix) as its name says (corrupt or replaced)")
            }
        case .kerasLayers(let expectedLayers):
            do {
                let reader = try KerasHDF5Reader(temp)
                let missing = expectedLayers.filter { !reader.layerNames.contains($0) }
                if !missing.isEmpty { throw failure("the file lacks the layers \(missing.joined(separator: ", "))") }
            } catch let error as WeightError where error.isDownloadFailure {
                throw error
            } catch {
                throw failure("the downloaded file is not a Keras weights file (\(error))")
            }
        }
        guard rename(temp.path, destination.path) == 0 else {
            throw WeightError.writeFailed(path: destination.path, reason: String(cString: strerror(errno)))
        }
        return destination
    }

    private func get(_ source: URL, to temp: URL, label: String, failure: (String) -> WeightError) throws {
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
