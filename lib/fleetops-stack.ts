import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { FleetTable } from './fleet-table';
import type { FleetOpsSettings } from './settings';

export interface FleetOpsStackProps extends StackProps {
  readonly settings: FleetOpsSettings;
}

/** FleetOps in one account and region. */
export class FleetOpsStack extends Stack {
  readonly table: ITable;

  constructor(scope: Construct, id: string, props: FleetOpsStackProps) {
    super(scope, id, props);
    this.table = new FleetTable(this, 'FleetState', { removalPolicy: props.settings.removalPolicy }).table;
    new CfnOutput(this, 'FleetTableName', {
      value: this.table.tableName,
      description: 'The fleet-state table (set FLEETOPS_TABLE to this for the CLI)',
    });
  }
}
