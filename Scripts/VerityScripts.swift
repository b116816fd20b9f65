// VerityScripts: the Lua library shipped with Verity (rewards, prompts, losses, schedules, recipes)
// as a resource bundle. It holds no logic; VerityLua resolves `require` against `VerityScripts.root`.
import Foundation

/// Location of the bundled Lua library.
public enum VerityScripts {
    /// The folder that holds `lib/`, `rewards/`, `prompts/`, `losses/`, `schedules/`, `recipes/`.
    public static var root: URL? { Bundle.module.resourceURL }
}
