import Foundation

/// The 1000 ImageNet class names in index order (torchvision's list, a package resource),
/// for the backbones' own ImageNet heads.
public enum ImageNetClasses {
    public static let names: [String] = {
        guard let url = Bundle.module.url(forResource: "imagenet_classes", withExtension: "txt"),
              let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }()
}
