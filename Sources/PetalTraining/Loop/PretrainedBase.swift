import Foundation
import PetalModels
import PetalWeights

extension TransferLearningConfig {
    /// The base's starting weights `weights` names: none, Keras's downloaded MobileNetV2
    /// files, a file, or the installed default. Shared by training and the learning-rate finder.
    func pretrainedWeights(_ architecture: Architecture, size: Int) throws -> WeightBinder {
        switch weights {
        case "none", "random":
            return .none
        case "imagenet":
            guard architecture.family == .mobileNetV2 else { throw TrainingError.noImagenetDownload(architecture.description) }
            let url = try KerasApplicationsDownloader().mobileNetV2(
                alpha: architecture.alpha, size: KerasApplicationsDownloader.mobileNetV2Sizes.contains(size) ? size : 224)
            return try PretrainedWeights.binder(for: architecture, url: url)
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
