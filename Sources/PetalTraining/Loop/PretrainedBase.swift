import Foundation
import PetalModels
import PetalWeights

extension TransferLearningConfig {
    /// The base's starting weights `weights` names: none, the family's downloaded ImageNet
    /// file, a file, or the installed default. Shared by training and the learning-rate finder.
    func pretrainedWeights(_ architecture: Architecture, size: Int) throws -> WeightBinder {
        switch weights {
        case "none", "random":
            return .none
        case "imagenet":
            // The family's own ImageNet file (Keras's MobileNetV2, torchvision's ResNet-50 and MobileNetV3).
            guard let download = try PretrainedWeights.imageNetDownload(for: architecture, inputSize: size, includeTop: false)
            else { throw TrainingError.noImagenetDownload(architecture.description) }
            return try PretrainedWeights.binder(for: architecture, url: try WeightsDownloader().fetch(download))
        case let path?:
            return try PretrainedWeights.binder(for: architecture, url: URL(fileURLWithPath: path))
        case nil:
            guard let url = PretrainedWeights.installedDefault(for: architecture) else {
                throw TrainingError.noInstalledWeights(architecture.description)
            }
            return try PretrainedWeights.binder(for: architecture, url: url)
        }
    }
}
