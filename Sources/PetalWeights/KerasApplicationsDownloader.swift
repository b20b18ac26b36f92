import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fetches the pretrained weights `keras.applications` uses into ~/.keras/models (as Keras
/// does), reusing a file already there, through `WeightsDownloader`: files must open as
/// Keras HDF5 with the expected layers (Keras publishes no hashes for MobileNetV2).
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

    /// The download of a MobileNetV2 ImageNet weights file (`--weights imagenet`).
    public func mobileNetV2Download(alpha: Double = 1.0, size: Int = 224, includeTop: Bool = false) throws -> WeightsDownload {
        let name = try Self.mobileNetV2FileName(alpha: alpha, size: size, includeTop: includeTop)
        return download(name, expectedLayers: ["Conv1", "bn_Conv1", "block_1_depthwise"])
    }

    /// The local MobileNetV2 ImageNet weights file, downloaded first if it is not there yet.
    public func mobileNetV2(alpha: Double = 1.0, size: Int = 224, includeTop: Bool = false) throws -> URL {
        try WeightsDownloader(showProgress: showProgress, timeout: timeout).fetch(
            mobileNetV2Download(alpha: alpha, size: size, includeTop: includeTop))
    }

    /// `directory/name`, downloaded from `baseURL/name` if absent, checked to be Keras HDF5
    /// listing `expectedLayers`.
    public func fetch(_ name: String, expectedLayers: [String]) throws -> URL {
        try WeightsDownloader(showProgress: showProgress, timeout: timeout).fetch(download(name, expectedLayers: expectedLayers))
    }

    private func download(_ name: String, expectedLayers: [String]) -> WeightsDownload {
        WeightsDownload(url: baseURL.appendingPathComponent(name), directory: directory, check: .kerasLayers(expectedLayers))
    }
}
