/**
 * The OpenSCENARIO subset drivegate simulates, as an allow-list of child elements per element. Anything
 * outside it is reported with its element path and line so that the scenario is refused, never
 * silently simplified.
 */
import type { XNode } from './xml.js';

const S = (...names: string[]): ReadonlySet<string> => new Set(names);

/**
 * Allowed child elements per element of a ScenarioDefinition. An element that is allowed somewhere but
 * has no entry here must have no children.
 */
export const SUBSET: Readonly<Record<string, ReadonlySet<string>>> = {
  OpenSCENARIO: S(
    'FileHeader',
    'ParameterDeclarations',
    'CatalogLocations',
    'RoadNetwork',
    'Entities',
    'Storyboard',
  ),
  FileHeader: S('License', 'Properties'),
  ParameterDeclarations: S('ParameterDeclaration'),
  RoadNetwork: S('LogicFile'),
  Entities: S('ScenarioObject'),
  ScenarioObject: S('Vehicle', 'Pedestrian'),
  Vehicle: S('ParameterDeclarations', 'BoundingBox', 'Performance', 'Axles', 'Properties'),
  Pedestrian: S('ParameterDeclarations', 'BoundingBox', 'Properties'),
  BoundingBox: S('Center', 'Dimensions'),
  Axles: S('FrontAxle', 'RearAxle', 'AdditionalAxle'),
  Properties: S('Property'),
  Storyboard: S('Init', 'Story', 'StopTrigger'),
  Init: S('Actions'),
  Actions: S('GlobalAction', 'Private'),
  GlobalAction: S('EnvironmentAction'),
  EnvironmentAction: S('Environment'),
  Environment: S('ParameterDeclarations', 'TimeOfDay', 'Weather', 'RoadCondition'),
  Weather: S('Sun', 'Fog', 'Precipitation'),
  RoadCondition: S('Properties'),
  Private: S('PrivateAction'),
  PrivateAction: S('TeleportAction', 'LongitudinalAction', 'LateralAction'),
  LongitudinalAction: S('SpeedAction'),
  SpeedAction: S('SpeedActionDynamics', 'SpeedActionTarget'),
  SpeedActionTarget: S('AbsoluteTargetSpeed'),
  LateralAction: S('LaneChangeAction'),
  LaneChangeAction: S('LaneChangeActionDynamics', 'LaneChangeTarget'),
  LaneChangeTarget: S('RelativeTargetLane', 'AbsoluteTargetLane'),
  TeleportAction: S('Position'),
  Position: S('WorldPosition', 'LanePosition', 'RelativeObjectPosition'),
  LanePosition: S('Orientation'),
  Story: S('ParameterDeclarations', 'Act'),
  Act: S('ManeuverGroup', 'StartTrigger'),
  ManeuverGroup: S('Actors', 'Maneuver'),
  Actors: S('EntityRef'),
  Maneuver: S('ParameterDeclarations', 'Event'),
  Event: S('Action', 'StartTrigger'),
  Action: S('PrivateAction'),
  StartTrigger: S('ConditionGroup'),
  StopTrigger: S('ConditionGroup'),
  ConditionGroup: S('Condition'),
  Condition: S('ByValueCondition', 'ByEntityCondition'),
  ByValueCondition: S('SimulationTimeCondition'),
  ByEntityCondition: S('TriggeringEntities', 'EntityCondition'),
  TriggeringEntities: S('EntityRef'),
  EntityCondition: S(
    'ReachPositionCondition',
    'RelativeDistanceCondition',
    'TimeHeadwayCondition',
    'TimeToCollisionCondition',
  ),
  ReachPositionCondition: S('Position'),
  TimeToCollisionCondition: S('TimeToCollisionConditionTarget'),
  TimeToCollisionConditionTarget: S('Position', 'EntityRef'),
};

/** An element outside the subset: its name, path from the root and line. */
export interface Unsupported {
  element: string;
  /** Its first child element, when it has one (e.g. RoutingAction -> FollowTrajectoryAction). */
  inner: string | null;
  path: string;
  line: number;
}

/**
 * Lists every element outside the subset (the outermost one of each unsupported branch), in document
 * order. An empty list means the file is inside the subset as far as elements go (attribute values are
 * checked when the scenario is built, after parameters are resolved).
 */
export function findUnsupported(root: XNode): Unsupported[] {
  const out: Unsupported[] = [];
  const walk = (node: XNode, path: string): void => {
    const allowed = SUBSET[node.name];
    for (const c of node.children) {
      const p = `${path}/${c.name}`;
      if (allowed === undefined || !allowed.has(c.name)) {
        out.push({ element: c.name, inner: c.children[0]?.name ?? null, path: p, line: c.line });
      } else walk(c, p);
    }
  };
  if (root.name !== 'OpenSCENARIO')
    return [{ element: root.name, inner: null, path: `/${root.name}`, line: root.line }];
  walk(root, '/OpenSCENARIO');
  return out;
}
